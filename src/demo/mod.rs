//! The demo catalog: a realistic home-goods catalog, deterministic by seed.
//!
//! Seven departments, categories three levels deep, brands per department with a few
//! dominating, real vocabularies for colours, materials, styles and sizes, log-normal
//! prices around each product type's median, Zipf-distributed popularity, and titles
//! and descriptions built from those. The same `(products, seed)` always gives the
//! same bytes; a million products take a few seconds.

mod vocab;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal, Zipf};
use serde::Serialize;

use crate::error::{Error, Result};
use vocab::{COLORS, DEPARTMENTS, Department, ProductType, STYLES};

/// Relative share of products per department (same order as `DEPARTMENTS`).
const DEPARTMENT_WEIGHTS: &[u32] = &[6, 3, 3, 3, 3, 2, 2];
/// Newest `created_at`: the demo's "today".
const NEWEST: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
/// Products were added over this many days before `NEWEST`.
const CATALOG_AGE_DAYS: i64 = 3 * 365;
/// Share of products in stock.
const IN_STOCK_SHARE: f64 = 0.92;

const COLLECTIONS: &[&str] = &[
    "Aldrich",
    "Bexley",
    "Calloway",
    "Dunmore",
    "Elsworth",
    "Fairview",
    "Grafton",
    "Harlow",
    "Ingram",
    "Juniper",
    "Kensington",
    "Larkin",
    "Marlowe",
    "Newbury",
    "Orchard",
    "Prescott",
    "Quincy",
    "Rowan",
    "Sheffield",
    "Thornton",
    "Upton",
    "Vale",
    "Whitby",
    "Yardley",
];

/// One demo product in clerk's catalog shape.
#[derive(Debug, Serialize)]
pub struct DemoProduct {
    pub id: String,
    pub title: String,
    pub description: String,
    pub brand: &'static str,
    pub category: [&'static str; 3],
    pub price: f64,
    pub in_stock: bool,
    pub attributes: Attributes,
    pub popularity: u64,
    pub rating: f64,
    pub margin: f64,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct Attributes {
    pub color: &'static str,
    pub material: &'static str,
    pub style: &'static str,
    pub size: &'static str,
}

/// A deterministic stream of demo products.
pub struct DemoCatalog {
    rng: ChaCha8Rng,
    next: u64,
    count: u64,
    popularity: Zipf<f64>,
    rating: Normal<f64>,
}

impl DemoCatalog {
    pub fn new(count: u64, seed: u64) -> DemoCatalog {
        DemoCatalog {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next: 0,
            count,
            // Zipf over ranks: a few products are very popular, most rarely seen.
            popularity: Zipf::new(1_000_000.0, 1.1).unwrap_or_else(|_| unreachable!()),
            rating: Normal::new(0.0, 0.6).unwrap_or_else(|_| unreachable!()),
        }
    }

    fn product(&mut self, number: u64) -> DemoProduct {
        let rng = &mut self.rng;
        let department = pick_weighted(rng, DEPARTMENTS, DEPARTMENT_WEIGHTS);
        let category = &department.categories[rng.random_range(0..department.categories.len())];
        let kind = &category.types[rng.random_range(0..category.types.len())];
        let brand = pick_brand(rng, department);
        let traits = Traits {
            brand,
            noun: pick(rng, kind.nouns),
            color: pick(rng, COLORS),
            material: pick(rng, kind.materials),
            style: pick(rng, STYLES),
            size: if kind.sizes.is_empty() {
                ""
            } else {
                pick(rng, kind.sizes)
            },
            collection: pick(rng, COLLECTIONS),
            room: category.name,
        };
        let title = title(rng, &traits);
        let description = description(rng, kind, &traits);
        let price = price(rng, kind, traits.material);
        let rank = self.popularity.sample(rng);
        let popularity = (1_000_000.0 / rank).round().max(1.0) as u64;
        let rating = (5.0 - self.rating.sample(rng).abs() * 1.2).clamp(1.0, 5.0);
        let days_old = rng.random_range(0..CATALOG_AGE_DAYS);
        DemoProduct {
            id: format!("p-{number}"),
            title,
            description,
            brand,
            category: [department.name, category.name, kind.category],
            price,
            in_stock: rng.random_bool(IN_STOCK_SHARE),
            attributes: Attributes {
                color: traits.color,
                material: traits.material,
                style: traits.style,
                size: traits.size,
            },
            popularity,
            rating: (rating * 10.0).round() / 10.0,
            margin: (rng.random_range(0.08..0.62f64) * 100.0).round() / 100.0,
            created_at: crate::catalog::format_date(NEWEST - days_old * 86_400),
        }
    }
}

impl Iterator for DemoCatalog {
    type Item = DemoProduct;

    fn next(&mut self) -> Option<DemoProduct> {
        if self.next >= self.count {
            return None;
        }
        self.next += 1;
        Some(self.product(self.next + 1000))
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weights: &[u32]) -> &'a T {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (item, &w) in items.iter().zip(weights) {
        if roll < w {
            return item;
        }
        roll -= w;
    }
    &items[items.len() - 1]
}

/// Brands are skewed: the first brands of a department carry most of its products.
fn pick_brand(rng: &mut ChaCha8Rng, department: &Department) -> &'static str {
    let n = department.brands.len();
    let u: f64 = rng.random();
    let index = ((u * u) * n as f64) as usize;
    department.brands[index.min(n - 1)]
}

/// What a product is, before it is written up.
struct Traits {
    brand: &'static str,
    collection: &'static str,
    style: &'static str,
    color: &'static str,
    material: &'static str,
    size: &'static str,
    noun: &'static str,
    room: &'static str,
}

fn title(rng: &mut ChaCha8Rng, t: &Traits) -> String {
    let Traits {
        brand,
        collection,
        style,
        color,
        material,
        size,
        noun,
        ..
    } = t;
    let sized = |sep: &str| {
        if size.is_empty() {
            String::new()
        } else {
            format!("{sep}{size}")
        }
    };
    match rng.random_range(0..5) {
        0 if !size.is_empty() => format!("{brand} {style} {material} {size} {noun}"),
        0 => format!("{brand} {style} {material} {noun}"),
        1 => format!(
            "{collection} {style} {noun} in {color} {material}{}",
            sized(", ")
        ),
        2 => format!("{brand} {collection} {noun}, {color}{}", sized(", ")),
        3 => format!("{material} {noun} by {brand} - {color}{}", sized(" - ")),
        _ => format!("{style} {color} {material} {noun}{}", sized(" ")),
    }
}

fn description(rng: &mut ChaCha8Rng, kind: &ProductType, t: &Traits) -> String {
    let f1 = pick(rng, kind.features);
    let f2 = pick(rng, kind.features);
    let features = if f1 == f2 {
        f1.to_string()
    } else {
        format!("{f1} and {f2}")
    };
    let size_note = if t.size.is_empty() {
        String::new()
    } else {
        format!(" Available here in {}.", t.size)
    };
    let style = t.style.to_lowercase();
    let article = if style.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "An"
    } else {
        "A"
    };
    format!(
        "{article} {style} {} with {features}. Made of {} in a {} finish, it brings {style} character to any {}.{size_note}",
        t.noun.to_lowercase(),
        t.material.to_lowercase(),
        t.color.to_lowercase(),
        t.room.to_lowercase(),
    )
}

fn price(rng: &mut ChaCha8Rng, kind: &ProductType, material: &str) -> f64 {
    let premium = match material {
        "Leather" | "Velvet" | "Walnut" | "Teak" | "Brass" | "Silk" | "Wool" | "Crystal" => 1.35,
        "Faux Leather" | "Polyester" | "Plastic" | "Resin" | "Polypropylene" | "Acrylic" => 0.75,
        _ => 1.0,
    };
    let median: f64 = kind.median_price * premium;
    let distribution = LogNormal::new(median.ln(), kind.sigma).unwrap_or_else(|_| unreachable!());
    let raw: f64 = distribution.sample(rng).clamp(4.0, 20_000.0);
    raw.floor() + 0.99
}

/// Writes `count` products as JSON Lines to `out` (gzip when it ends in `.gz`).
pub fn write_catalog(out: &Path, count: u64, seed: u64) -> Result<u64> {
    let file =
        File::create(out).map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let gzip = out.extension().is_some_and(|e| e == "gz");
    let sink: Box<dyn Write> = if gzip {
        Box::new(GzEncoder::new(
            BufWriter::with_capacity(1 << 20, file),
            Compression::fast(),
        ))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, file))
    };
    write_products(sink, count, seed)
        .map_err(|e| Error::io(format!("writing {}", out.display()), e))
}

/// Writes `count` products as JSON Lines to any writer.
pub fn write_products(mut sink: Box<dyn Write>, count: u64, seed: u64) -> std::io::Result<u64> {
    let mut written = 0;
    for product in DemoCatalog::new(count, seed) {
        serde_json::to_writer(&mut sink, &product)?;
        sink.write_all(b"\n")?;
        written += 1;
    }
    sink.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_catalog() {
        let a: Vec<String> = DemoCatalog::new(50, 7)
            .map(|p| serde_json::to_string(&p).unwrap())
            .collect();
        let b: Vec<String> = DemoCatalog::new(50, 7)
            .map(|p| serde_json::to_string(&p).unwrap())
            .collect();
        let c: Vec<String> = DemoCatalog::new(50, 8)
            .map(|p| serde_json::to_string(&p).unwrap())
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn products_are_plausible() {
        let products: Vec<DemoProduct> = DemoCatalog::new(2000, 1).collect();
        assert!(
            products
                .iter()
                .all(|p| p.price >= 4.0 && p.price <= 20_001.0)
        );
        assert!(products.iter().all(|p| (1.0..=5.0).contains(&p.rating)));
        assert!(
            products
                .iter()
                .all(|p| !p.title.contains("  ") && !p.title.ends_with(' '))
        );
        let departments: std::collections::HashSet<_> =
            products.iter().map(|p| p.category[0]).collect();
        assert_eq!(departments.len(), DEPARTMENTS.len());
        // Zipf popularity: the median product is far less popular than the top one.
        let mut pops: Vec<u64> = products.iter().map(|p| p.popularity).collect();
        pops.sort_unstable();
        assert!(
            pops[pops.len() - 1] > 20 * pops[pops.len() / 2],
            "{:?}",
            &pops[pops.len() - 5..]
        );
        let in_stock = products.iter().filter(|p| p.in_stock).count() as f64 / 2000.0;
        assert!((0.85..0.97).contains(&in_stock), "{in_stock}");
    }
}
