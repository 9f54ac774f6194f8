// Plain SVG charts. Each has a title, a text alternative (a table in <details>) and labels.

import { domainColour } from "./MapView";

export interface Bar {
  label: string;
  value: number | null;
  /** Text shown beside the bar; defaults to the value. */
  text?: string;
  colour?: string;
}

/** Horizontal bars, one row per item. */
export function BarChart({ title, bars, width = 520 }: { title: string; bars: Bar[]; width?: number }) {
  const max = Math.max(1e-9, ...bars.map((b) => b.value ?? 0));
  const row = 30;
  const labelW = 190;
  const textW = 90;
  const barW = width - labelW - textW;
  const height = Math.max(row, bars.length * row) + 4;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p class="muted">No data yet.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title} preserveAspectRatio="xMinYMin meet">
          {bars.map((b, i) => {
            const w = b.value == null ? 0 : Math.max(1, (b.value / max) * barW);
            const y = i * row + 2;
            return (
              <g key={i}>
                <text x={labelW - 8} y={y + row / 2 + 4} text-anchor="end" class="chart-label">
                  {b.label.length > 24 ? `${b.label.slice(0, 23)}…` : b.label}
                </text>
                <rect x={labelW} y={y + 4} width={w} height={row - 8} rx={2} fill={b.colour ?? "#5aa9ff"} />
                <text x={labelW + w + 6} y={y + row / 2 + 4} class="chart-value">
                  {b.value == null ? "no data" : (b.text ?? String(b.value))}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}

export interface StackBucket {
  label: string;
  counts: Record<string, number>;
}

/** Stacked columns over time, coloured by domain, with a legend. */
export function StackedColumns({ title, buckets, width = 1200, height = 240 }: { title: string; buckets: StackBucket[]; width?: number; height?: number }) {
  const keys = [...new Set(buckets.flatMap((b) => Object.keys(b.counts)))].sort();
  const totals = buckets.map((b) => Object.values(b.counts).reduce((s, n) => s + n, 0));
  const max = Math.max(1, ...totals);
  const left = 36;
  const bottom = 22;
  const plotH = height - bottom - 8;
  const colW = buckets.length ? Math.min(48, (width - left) / buckets.length) : 0;
  const step = Math.max(1, Math.ceil(buckets.length / 8));
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {buckets.length === 0 ? (
        <p class="muted">No data yet.</p>
      ) : (
        <>
          <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title} preserveAspectRatio="xMinYMin meet">
            <line x1={left} y1={8} x2={left} y2={8 + plotH} class="axis" />
            <line x1={left} y1={8 + plotH} x2={width} y2={8 + plotH} class="axis" />
            <text x={left - 4} y={14} text-anchor="end" class="chart-value">
              {max}
            </text>
            <text x={left - 4} y={8 + plotH} text-anchor="end" class="chart-value">
              0
            </text>
            {buckets.map((b, i) => {
              let y = 8 + plotH;
              return (
                <g key={i}>
                  {keys.map((k) => {
                    const n = b.counts[k] ?? 0;
                    const h = (n / max) * plotH;
                    y -= h;
                    return n > 0 ? (
                      <rect key={k} x={left + i * colW + 1} y={y} width={Math.max(1, colW - 2)} height={h} fill={domainColour(k)}>
                        <title>{`${b.label}: ${k} ${n}`}</title>
                      </rect>
                    ) : null;
                  })}
                  {i % step === 0 && (
                    <text x={left + i * colW + colW / 2} y={height - 6} text-anchor="middle" class="chart-value">
                      {b.label}
                    </text>
                  )}
                </g>
              );
            })}
          </svg>
          <p class="legend">
            {keys.map((k) => (
              <span key={k}>
                <span class="swatch" style={{ background: domainColour(k) }} /> {k}
              </span>
            ))}
          </p>
        </>
      )}
    </figure>
  );
}
