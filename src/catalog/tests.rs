//! Catalog validation: coercions per kind, the reasons given for rejected records,
//! JSON Lines and TSV reading with line numbers.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde_json::json;

use super::reader::CatalogReader;
use super::*;
use crate::schema::{CatalogFormat, StoreSchema};

fn demo_schema() -> StoreSchema {
    StoreSchema::parse(include_str!("../../index-schema/demo.toml"), "demo.toml").unwrap()
}

fn record(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn field<'a>(schema: &StoreSchema, product: &'a Product, name: &str) -> &'a FieldValue {
    let i = schema.fields.iter().position(|f| f.name == name).unwrap();
    &product.values[i]
}

#[test]
fn spec_example_product_is_accepted() {
    let schema = demo_schema();
    let product = Product::from_record(
        &schema,
        &record(
            json!({"id":"p-1001","title":"Linen 3-seat sofa","description":"...","brand":"Nordby",
            "category":["Furniture","Living Room","Sofas"],"price":499.0,"in_stock":true,
            "attributes":{"color":"grey","material":"linen","style":"modern"},
            "popularity":120,"rating":4.4,"margin":0.31,"created_at":"2026-03-01T00:00:00Z"}),
        ),
    )
    .unwrap();
    assert_eq!(product.id, "p-1001");
    assert_eq!(
        field(&schema, &product, "price"),
        &FieldValue::Number(499.0)
    );
    assert_eq!(
        field(&schema, &product, "in_stock"),
        &FieldValue::Bool(true)
    );
    assert_eq!(
        field(&schema, &product, "category"),
        &FieldValue::Category(vec![vec![
            "Furniture".into(),
            "Living Room".into(),
            "Sofas".into()
        ]])
    );
    assert_eq!(
        field(&schema, &product, "created_at"),
        &FieldValue::Date(1_772_323_200)
    );
}

#[test]
fn only_id_and_title_are_required() {
    let schema = demo_schema();
    assert!(Product::from_record(&schema, &record(json!({"id":"a","title":"Lamp"}))).is_ok());
    let no_title = Product::from_record(&schema, &record(json!({"id":"a"}))).unwrap_err();
    assert!(no_title.contains("title"), "{no_title}");
    let no_id = Product::from_record(&schema, &record(json!({"title":"Lamp"}))).unwrap_err();
    assert!(no_id.contains("id"), "{no_id}");
    let numeric_id =
        Product::from_record(&schema, &record(json!({"id": 17, "title":"Lamp"}))).unwrap();
    assert_eq!(numeric_id.id, "17");
}

#[test]
fn wrong_types_name_the_field() {
    let schema = demo_schema();
    let err = Product::from_record(
        &schema,
        &record(json!({"id":"a","title":"x","price":"cheap"})),
    )
    .unwrap_err();
    assert!(err.contains("price") && err.contains("number"), "{err}");
    let err = Product::from_record(
        &schema,
        &record(json!({"id":"a","title":"x","in_stock":"maybe"})),
    )
    .unwrap_err();
    assert!(err.contains("in_stock"), "{err}");
    let err = Product::from_record(
        &schema,
        &record(json!({"id":"a","title":"x","created_at":"last week"})),
    )
    .unwrap_err();
    assert!(
        err.contains("created_at") && err.contains("RFC 3339"),
        "{err}"
    );
}

#[test]
fn strings_are_coerced_where_unambiguous() {
    let schema = demo_schema();
    let product = Product::from_record(
        &schema,
        &record(json!({"id":"a","title":"x","price":"12.5","in_stock":"no","category":"Home/Kitchen/Pans","created_at":"2026-01-02"})),
    )
    .unwrap();
    assert_eq!(field(&schema, &product, "price"), &FieldValue::Number(12.5));
    assert_eq!(
        field(&schema, &product, "in_stock"),
        &FieldValue::Bool(false)
    );
    assert_eq!(
        field(&schema, &product, "category"),
        &FieldValue::Category(vec![vec!["Home".into(), "Kitchen".into(), "Pans".into()]])
    );
}

#[test]
fn null_and_empty_values_are_missing() {
    let schema = demo_schema();
    let product = Product::from_record(
        &schema,
        &record(json!({"id":"a","title":"x","price":null,"brand":""})),
    )
    .unwrap();
    assert_eq!(field(&schema, &product, "price"), &FieldValue::Missing);
    assert_eq!(field(&schema, &product, "brand"), &FieldValue::Missing);
    assert!(product.to_json(&schema).get("price").is_none());
}

fn read_all(text: &str, format: &CatalogFormat) -> Vec<super::reader::Record> {
    CatalogReader::from_reader(
        Box::new(Cursor::new(text.as_bytes().to_vec())),
        format,
        Arc::new(AtomicU64::new(0)),
        0,
    )
    .unwrap()
    .collect()
}

#[test]
fn json_lines_report_bad_lines_by_number() {
    let text =
        "{\"id\":\"a\",\"title\":\"A\"}\n\n{not json}\n[1,2]\n{\"id\":\"b\",\"title\":\"B\"}\n";
    let records = read_all(text, &CatalogFormat::JsonLines);
    let lines: Vec<(usize, bool)> = records.iter().map(|(l, r)| (*l, r.is_ok())).collect();
    assert_eq!(lines, [(1, true), (3, false), (4, false), (5, true)]);
    assert!(records[1].1.as_ref().unwrap_err().contains("invalid JSON"));
    assert!(records[2].1.as_ref().unwrap_err().contains("object"));
}

#[test]
fn wands_style_tsv_maps_through_the_schema() {
    let schema =
        StoreSchema::parse(include_str!("../../index-schema/wands.toml"), "wands.toml").unwrap();
    let text = "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features\trating_count\taverage_rating\treview_count\n\
                7\tsolid wood platform bed\tBeds\tFurniture / Bedroom Furniture / Beds & Headboards / Beds\ta bed\tcolor:brown|material:oak|material:pine\t15\t4.5\t15\n\
                8\tbroken row\tBeds\n";
    let records = read_all(text, &schema.format);
    assert_eq!(records.len(), 2);
    let (line, first) = &records[0];
    assert_eq!(*line, 2);
    let product = Product::from_record(&schema, first.as_ref().unwrap()).unwrap();
    assert_eq!(product.id, "7");
    assert_eq!(
        field(&schema, &product, "category"),
        &FieldValue::Category(vec![vec![
            "Furniture".into(),
            "Bedroom Furniture".into(),
            "Beds & Headboards".into(),
            "Beds".into()
        ]])
    );
    assert_eq!(
        field(&schema, &product, "attributes"),
        &FieldValue::Attributes(vec![
            ("color".into(), vec!["brown".into()]),
            ("material".into(), vec!["oak".into(), "pine".into()])
        ])
    );
    let (line, second) = &records[1];
    assert_eq!(*line, 3);
    assert!(
        second.as_ref().unwrap_err().contains("columns"),
        "{second:?}"
    );
}
