//! Document order: products are written in clusters of the same category and brand.
//!
//! A shopper's query names a kind of product, so its matches are mostly products of a
//! few categories. When those sit next to each other in document order, every per-
//! document column the retrieval loop reads for them (filters, facets, popularity,
//! rules, affinity) comes from a few runs of memory instead of one cache miss per
//! document and column, and their postings compress to small gaps. A catalog file is
//! rarely in that order (feeds are sorted by id or date), so the build reorders it.
//!
//! Products enter with [`Clusters::push`] in catalog order; every [`CHUNK`] products
//! (and at [`Clusters::flush`]) the buffered chunk is sorted by [`cluster_key`]
//! (stable, so equal keys keep catalog order) and handed to the sink. Sorting chunks
//! rather than the whole catalog bounds the memory a build holds: a category appears
//! once per chunk, still a long run. The order is an implementation detail: ranking
//! never depends on it, except to break exact ties.

use crate::catalog::{FieldValue, Product};
use crate::schema::{FieldKind, StoreSchema};

/// Products sorted together: about 65 MB of parsed products.
pub const CHUNK: usize = 50_000;

/// A buffer that releases products chunk by chunk, each chunk in cluster order.
pub struct Clusters {
    keys: Vec<usize>,
    chunk: Vec<(String, Product)>,
    capacity: usize,
}

impl Clusters {
    /// Clusters over `schema`'s category fields, then its faceted keyword fields.
    pub fn new(schema: &StoreSchema, capacity: usize) -> Clusters {
        let category = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.kind, FieldKind::Category { .. }));
        let keyword = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.kind, FieldKind::Keyword { .. }) && f.facet.is_some());
        Clusters {
            keys: category.chain(keyword).map(|(i, _)| i).collect(),
            chunk: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    /// Buffers `product`; when the chunk is full, hands it to `sink` in cluster order.
    pub fn push<E>(
        &mut self,
        product: Product,
        sink: &mut impl FnMut(Product) -> Result<(), E>,
    ) -> Result<(), E> {
        let key = cluster_key(&product, &self.keys);
        self.chunk.push((key, product));
        if self.chunk.len() >= self.capacity {
            self.flush(sink)?;
        }
        Ok(())
    }

    /// Hands every buffered product to `sink`, in cluster order.
    pub fn flush<E>(&mut self, sink: &mut impl FnMut(Product) -> Result<(), E>) -> Result<(), E> {
        self.chunk.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, product) in self.chunk.drain(..) {
            sink(product)?;
        }
        Ok(())
    }
}

/// The sort key of a product: the values of `fields` (field indexes), in order, each
/// ended by a separator below any character so "Lamps" sorts before "Lamps/Floor".
pub fn cluster_key(product: &Product, fields: &[usize]) -> String {
    let mut key = String::new();
    for &field in fields {
        match product.values.get(field) {
            Some(FieldValue::Category(paths)) => {
                if let Some(path) = paths.first() {
                    for level in path {
                        key.push_str(level);
                        key.push('\u{1}');
                    }
                }
            }
            Some(FieldValue::Keyword(values)) => {
                if let Some(value) = values.first() {
                    key.push_str(value);
                }
            }
            _ => {}
        }
        key.push('\u{0}');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, category: &[&str], brand: &str) -> Product {
        Product {
            id: id.to_string(),
            values: vec![
                FieldValue::Category(vec![category.iter().map(|s| s.to_string()).collect()]),
                FieldValue::Keyword(vec![brand.to_string()]),
            ],
        }
    }

    fn order(products: Vec<Product>, capacity: usize) -> Vec<String> {
        let mut clusters = Clusters {
            keys: vec![0, 1],
            chunk: Vec::new(),
            capacity,
        };
        let mut out = Vec::new();
        let mut sink = |p: Product| -> Result<(), ()> {
            out.push(p.id);
            Ok(())
        };
        for p in products {
            clusters.push(p, &mut sink).unwrap();
        }
        clusters.flush(&mut sink).unwrap();
        out
    }

    #[test]
    fn a_chunk_comes_out_grouped_by_category_then_brand() {
        let products = vec![
            product("1", &["Lighting", "Lamps"], "Nordby"),
            product("2", &["Furniture", "Sofas"], "Ridgeway"),
            product("3", &["Lighting", "Lamps"], "Alto"),
            product("4", &["Furniture", "Sofas"], "Alto"),
            product("5", &["Lighting"], "Nordby"),
        ];
        assert_eq!(order(products, 100), ["4", "2", "5", "3", "1"]);
    }

    #[test]
    fn every_product_comes_out_once_and_chunks_keep_catalog_order() {
        let products: Vec<Product> = (0..10)
            .map(|i| product(&i.to_string(), &[if i % 2 == 0 { "B" } else { "A" }], "x"))
            .collect();
        // Chunks of four: [0..4) sorted, [4..8) sorted, then the rest.
        assert_eq!(
            order(products, 4),
            ["1", "3", "0", "2", "5", "7", "4", "6", "9", "8"]
        );
    }

    #[test]
    fn a_parent_category_sorts_before_its_children() {
        let a = cluster_key(&product("a", &["Lamps"], "z"), &[0, 1]);
        let b = cluster_key(&product("b", &["Lamps", "Floor"], "a"), &[0, 1]);
        let c = cluster_key(&product("c", &["Lamps "], "a"), &[0, 1]);
        assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
    }
}
