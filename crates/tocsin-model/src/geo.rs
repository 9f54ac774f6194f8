use serde::{Deserialize, Serialize};

/// Where something happened: a point, optionally with an uncertainty radius, or a polygon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geo {
    /// Latitude in degrees, WGS 84, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, WGS 84, -180..=180.
    pub lon: f64,
    /// Radius of uncertainty around the point, in metres (e.g. a geocoded place name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    /// An area instead of (or around) the point, as `[lon, lat]` pairs in GeoJSON order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polygon: Option<Vec<[f64; 2]>>,
}

impl Geo {
    pub fn point(lat: f64, lon: f64) -> Self {
        Self {
            lat,
            lon,
            radius_m: None,
            polygon: None,
        }
    }

    /// Checks ranges; returns the reason when something is out of range.
    pub fn validate(&self, max_polygon_points: usize) -> Result<(), String> {
        let lat_ok = |v: f64| v.is_finite() && (-90.0..=90.0).contains(&v);
        let lon_ok = |v: f64| v.is_finite() && (-180.0..=180.0).contains(&v);
        if !lat_ok(self.lat) {
            return Err(format!("geo.lat {} is outside -90..90", self.lat));
        }
        if !lon_ok(self.lon) {
            return Err(format!("geo.lon {} is outside -180..180", self.lon));
        }
        if let Some(r) = self.radius_m
            && !(r.is_finite() && r >= 0.0)
        {
            return Err(format!("geo.radius_m {r} must be a non-negative number"));
        }
        if let Some(poly) = &self.polygon {
            if poly.len() > max_polygon_points {
                return Err(format!(
                    "geo.polygon has {} points, more than the limit of {max_polygon_points}",
                    poly.len()
                ));
            }
            if poly.len() < 3 {
                return Err("geo.polygon needs at least 3 points".to_owned());
            }
            for [lon, lat] in poly {
                if !lat_ok(*lat) || !lon_ok(*lon) {
                    return Err(format!("geo.polygon point [{lon}, {lat}] is out of range"));
                }
            }
        }
        Ok(())
    }

    /// Great-circle distance to another point, in metres (haversine, mean Earth radius).
    pub fn distance_m(&self, other: &Geo) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_to_london_is_about_344_km() {
        let paris = Geo::point(48.8566, 2.3522);
        let london = Geo::point(51.5074, -0.1278);
        let d = paris.distance_m(&london) / 1000.0;
        assert!((d - 343.5).abs() < 2.0, "got {d}");
    }

    #[test]
    fn out_of_range_coordinates_are_rejected_with_the_field_named() {
        let err = Geo::point(91.0, 0.0).validate(10).unwrap_err();
        assert!(err.contains("geo.lat"), "{err}");
        let err = Geo::point(0.0, f64::NAN).validate(10).unwrap_err();
        assert!(err.contains("geo.lon"), "{err}");
        let mut g = Geo::point(0.0, 0.0);
        g.polygon = Some(vec![[0.0, 0.0]; 20]);
        assert!(g.validate(10).unwrap_err().contains("limit"));
    }
}
