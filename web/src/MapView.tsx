// The map: a world base layer drawn from the bundled Natural Earth countries (no tile server),
// sites with their geofences and zones, alerts and events coloured by domain with their
// uncertainty radius, and people travelling. An optional tile layer for connected sites.

import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import { useEffect, useRef } from "preact/hooks";
import countries from "world-atlas/countries-110m.json";
import type { Alert, EventRecord, Geo, Person, Site } from "./types";
import { severityName } from "./types";

export const DOMAIN_COLOURS: Record<string, string> = {
  cyber: "#5aa9ff",
  physical: "#ffb454",
  public: "#9ccc65",
};

export function domainColour(d: string): string {
  return DOMAIN_COLOURS[d] ?? "#c7a6ff";
}

/** Where an alert is: its own position, else its site's. */
export function alertPlace(a: Alert, sites: Map<string, Site>): Geo | null {
  if (a.geo) return a.geo;
  const s = a.site_id ? sites.get(a.site_id) : undefined;
  return s ? s.location : null;
}

function el(tag: string, text?: string, cls?: string): HTMLElement {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/**
 * Rings that cross the antimeridian (Russia, Fiji) jump from +180 to -180; drawn as is, they
 * streak across the whole map. Shifting each point by 360° where it jumps keeps rings
 * continuous (Leaflet draws longitudes past ±180 where they belong).
 */
function unwrapAntimeridian<T extends GeoJSON.FeatureCollection>(fc: T): T {
  const ring = (r: GeoJSON.Position[]): GeoJSON.Position[] => {
    let shift = 0;
    return r.map((p, i) => {
      const d = i > 0 ? p[0] - r[i - 1][0] : 0;
      if (d > 180) shift -= 360;
      else if (d < -180) shift += 360;
      return [p[0] + shift, p[1]];
    });
  };
  const geom = (g: GeoJSON.Geometry | null): GeoJSON.Geometry | null => {
    if (g?.type === "Polygon") return { ...g, coordinates: g.coordinates.map(ring) };
    if (g?.type === "MultiPolygon") return { ...g, coordinates: g.coordinates.map((poly) => poly.map(ring)) };
    return g;
  };
  return { ...fc, features: fc.features.map((f) => ({ ...f, geometry: geom(f.geometry) })) };
}

/** The first sentence or line of a long summary. */
function firstLine(s: string): string {
  const line = s.split("\n")[0] ?? "";
  return line.length > 220 ? `${line.slice(0, 219)}…` : line;
}

function popup(title: string, lines: string[]): HTMLElement {
  const box = el("div", undefined, "map-popup");
  box.append(el("strong", title));
  for (const l of lines) box.append(el("div", l));
  return box;
}

interface Props {
  alerts: Alert[];
  selected: string | null;
  sites: Site[];
  people: Person[];
  events: EventRecord[];
  tileUrl?: string | null;
  onSelect: (id: string) => void;
}

export function MapView({ alerts, selected, sites, people, events, tileUrl, onSelect }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layers = useRef<{ sites: L.LayerGroup; alerts: L.LayerGroup; events: L.LayerGroup; travel: L.LayerGroup } | null>(
    null,
  );
  const markers = useRef(new Map<string, { marker: L.CircleMarker; circle: L.Circle | null; status: string }>());
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;

  // The map and its base layers, once.
  useEffect(() => {
    if (!host.current) return;
    const m = L.map(host.current, { worldCopyJump: true, minZoom: 2, maxZoom: 18, zoomSnap: 0.5 });
    m.setView([30, 10], 2);
    m.attributionControl.setPrefix(false);
    const topo = countries as unknown as Topology<{ countries: GeometryCollection }>;
    const land = unwrapAntimeridian(feature(topo, topo.objects.countries));
    L.geoJSON(land, {
      style: { color: "#3b4a5c", weight: 0.8, fillColor: "#1d2835", fillOpacity: 1 },
      interactive: false,
      attribution: "Natural Earth",
    }).addTo(m);
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: "map tiles" }).addTo(m);
    }
    const groups = {
      sites: L.layerGroup().addTo(m),
      events: L.layerGroup().addTo(m),
      travel: L.layerGroup().addTo(m),
      alerts: L.layerGroup().addTo(m),
    };
    L.control
      .layers(undefined, { Sites: groups.sites, Events: groups.events, Travellers: groups.travel, Alerts: groups.alerts }, { collapsed: true })
      .addTo(m);
    layers.current = groups;
    map.current = m;
    const resize = new ResizeObserver(() => m.invalidateSize());
    resize.observe(host.current);
    return () => {
      resize.disconnect();
      m.remove();
      markers.current.clear();
      map.current = null;
      layers.current = null;
    };
  }, [tileUrl]);

  // Sites with geofences and zones.
  useEffect(() => {
    const g = layers.current?.sites;
    if (!g) return;
    g.clearLayers();
    for (const s of sites) {
      const ll = L.latLng(s.location.lat, s.location.lon);
      const style = { color: "#e6e6e6", weight: 1.5, dashArray: "4 4", fillOpacity: 0.06 };
      if (s.geofence?.polygon && s.geofence.polygon.length >= 3) {
        L.polygon(
          s.geofence.polygon.map(([lon, lat]) => [lat, lon] as [number, number]),
          style,
        ).addTo(g);
      } else {
        L.circle(ll, { ...style, radius: s.geofence?.radius_m ?? 150 }).addTo(g);
      }
      const zones = (s.zones ?? []).map((z) => `Zone ${z.name}${z.sensitivity ? ` (${z.sensitivity})` : ""}`);
      L.circleMarker(ll, { radius: 6, color: "#e6e6e6", weight: 2, fillColor: "#0f1419", fillOpacity: 1 })
        .bindPopup(popup(s.name, [s.address ?? "", s.criticality ? `criticality ${s.criticality}` : "", ...zones].filter(Boolean)))
        .bindTooltip(s.name)
        .addTo(g);
    }
  }, [sites]);

  // Travellers: people whose travel covers now.
  useEffect(() => {
    const g = layers.current?.travel;
    if (!g) return;
    g.clearLayers();
    const now = Date.now();
    for (const p of people) {
      for (const t of p.travel ?? []) {
        if (Date.parse(t.from) <= now && now <= Date.parse(t.until)) {
          L.circleMarker([t.location.lat, t.location.lon], {
            radius: 5,
            color: "#f0f0f0",
            weight: 1,
            fillColor: "#d18cff",
            fillOpacity: 0.9,
          })
            .bindPopup(popup(`${p.name} (travelling)`, [t.place, `until ${new Date(t.until).toLocaleString()}`]))
            .addTo(g);
        }
      }
    }
  }, [people]);

  // Recent events.
  useEffect(() => {
    const g = layers.current?.events;
    if (!g) return;
    g.clearLayers();
    // Uncertainty circles for the most recent events only: hundreds of overlapping outlines at
    // one site would hide the map.
    let circles = 0;
    for (const e of events) {
      if (!e.geo) continue;
      if (e.geo.radius_m && circles < 25) {
        circles += 1;
        L.circle([e.geo.lat, e.geo.lon], {
          radius: e.geo.radius_m,
          color: domainColour(e.domain),
          weight: 1,
          opacity: 0.4,
          dashArray: "2 4",
          fill: false,
          interactive: false,
        }).addTo(g);
      }
      L.circleMarker([e.geo.lat, e.geo.lon], {
        radius: 3,
        stroke: false,
        fillColor: domainColour(e.domain),
        fillOpacity: 0.55,
      })
        .bindPopup(popup(`${e.domain} event`, [String(e.class ?? ""), String(e.message ?? e.activity ?? ""), new Date(e.time).toLocaleString()]))
        .addTo(g);
    }
  }, [events]);

  // Alerts, with their uncertainty radius. Markers are updated in place, so an open popup stays
  // open while new alerts arrive.
  useEffect(() => {
    const g = layers.current?.alerts;
    if (!g) return;
    const siteMap = new Map(sites.map((s) => [s.id, s]));
    const keep = new Set<string>();
    for (const a of alerts) {
      const at = alertPlace(a, siteMap);
      if (!at) continue;
      keep.add(a.id);
      const colour = domainColour(a.domain);
      const isSel = a.id === selected;
      const style = {
        radius: isSel ? 11 : 5 + Math.min(a.severity, 6),
        color: isSel ? "#ffffff" : "#0f1419",
        weight: isSel ? 3 : 1,
        fillColor: colour,
        fillOpacity: a.status === "open" ? 0.95 : 0.45,
      };
      const content = popup(a.title, [
        `${a.domain} · ${severityName(a.severity)} · ${a.status}`,
        firstLine(a.summary),
        at.radius_m ? `within ${Math.round(at.radius_m)} m` : "",
      ].filter(Boolean));
      const old = markers.current.get(a.id);
      if (old) {
        old.marker.setStyle(style).setRadius(style.radius).setLatLng([at.lat, at.lon]);
        if (old.status !== a.status) old.marker.setPopupContent(content);
        old.status = a.status;
        if (isSel) old.marker.bringToFront();
        continue;
      }
      const circle = at.radius_m
        ? L.circle([at.lat, at.lon], { radius: at.radius_m, color: colour, weight: 1, fillOpacity: 0.08, interactive: false }).addTo(g)
        : null;
      const marker = L.circleMarker([at.lat, at.lon], style)
        .bindPopup(content, { className: "alert-popup", maxWidth: 320 })
        .on("click", () => onSelectRef.current(a.id))
        .addTo(g);
      markers.current.set(a.id, { marker, circle, status: a.status });
    }
    for (const [id, m] of markers.current) {
      if (!keep.has(id)) {
        m.marker.remove();
        m.circle?.remove();
        markers.current.delete(id);
      }
    }
  }, [alerts, sites, selected]);

  // Fly to the selected alert.
  useEffect(() => {
    const m = map.current;
    if (!m || !selected) return;
    const mk = markers.current.get(selected)?.marker;
    if (!mk) return;
    const a = alerts.find((x) => x.id === selected);
    const radius = a?.geo?.radius_m;
    // Close enough to see the uncertainty circle; the popup opens once the map has settled.
    // Capped at street level: the offline base layer has no detail beyond it.
    const zoom = radius ? Math.max(3, Math.min(13, Math.round(Math.log2(40_000_000 / (radius * 12))))) : 12;
    const open = () => mk.openPopup();
    m.once("moveend", open);
    m.flyTo(mk.getLatLng(), zoom, { duration: 0.6 });
    return () => {
      m.off("moveend", open);
    };
  }, [selected]);

  return <div ref={host} class="map" role="region" aria-label="Map of sites, alerts, events and travellers" />;
}
