//! Filter syntax: what parses, what each mistake says.

use super::*;

fn schema() -> StoreSchema {
    StoreSchema::parse(include_str!("../../index-schema/demo.toml"), "demo.toml").unwrap()
}

fn numeric_defs(schema: &StoreSchema) -> Vec<usize> {
    schema
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind.is_numeric())
        .map(|(i, _)| i)
        .collect()
}

fn parse_one(text: &str) -> Result<FilterSpec> {
    let schema = schema();
    let numeric = numeric_defs(&schema);
    parse(&[text.to_string()], &schema, &numeric).map(|mut v| v.remove(0))
}

fn error(text: &str) -> String {
    parse_one(text).unwrap_err().to_string()
}

#[test]
fn parses_every_form() {
    let brand = parse_one("brand:Nordby|Acme").unwrap();
    assert_eq!(brand.key, "brand");
    assert_eq!(
        brand.condition,
        Condition::AnyOf(vec!["Nordby".into(), "Acme".into()])
    );
    let price = parse_one("price:10..50").unwrap();
    assert_eq!(price.condition, Condition::Range { lo: 10.0, hi: 50.0 });
    assert_eq!(
        parse_one("price:..50").unwrap().condition,
        Condition::Range {
            lo: f64::NEG_INFINITY,
            hi: 50.0
        }
    );
    assert_eq!(
        parse_one("price:10..").unwrap().condition,
        Condition::Range {
            lo: 10.0,
            hi: f64::INFINITY
        }
    );
    let category = parse_one("category:Furniture/Sofas").unwrap();
    assert!(matches!(
        category.target,
        Target::Column { category: true, .. }
    ));
    let color = parse_one("color:grey").unwrap();
    assert_eq!(color.key, "attributes.color");
    assert!(parse_one("-brand:Acme").unwrap().negate);
    assert!(parse_one("in_stock:true").is_ok());
    let date = parse_one("created_at:2026-01-01..2026-06-30").unwrap();
    assert!(matches!(date.condition, Condition::Range { lo, hi } if lo < hi));
}

#[test]
fn mistakes_say_what_to_fix() {
    assert!(error("brand").contains("field:value"));
    assert!(error("brand:").contains("both the field and the value"));
    assert!(error("title:sofa").contains("free text"));
    assert!(error("price:cheap").contains("is not a number"));
    assert!(error("price:50..10").contains("lower end"));
    assert!(error("price:a..b").contains("range end"));
    assert!(error("in_stock:maybe").contains("true or false"));
    assert!(error("created_at:yesterday").contains("date"));
    assert!(error("attributes:grey").contains("name one attribute"));
}

#[test]
fn unknown_fields_list_the_filterable_ones() {
    // With an attributes field any other name is an attribute, so use a schema without one.
    let schema = StoreSchema::parse(
        "[[field]]\nname = \"title\"\nkind = \"text\"\n[[field]]\nname = \"brand\"\nkind = \"keyword\"\n",
        "s.toml",
    )
    .unwrap();
    let err = parse(&["colour:red".to_string()], &schema, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field \"colour\""), "{err}");
    assert!(err.contains("brand"), "{err}");
}

#[test]
fn too_many_filters_is_an_error() {
    let schema = schema();
    let filters: Vec<String> = (0..MAX_FILTERS + 1)
        .map(|i| format!("brand:b{i}"))
        .collect();
    let err = parse(&filters, &schema, &numeric_defs(&schema))
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most"), "{err}");
}

#[test]
fn category_filters_match_shorter_paths() {
    let mut vocab = Vocabulary::new(vec!["category".into()]);
    let (c, sofas) = vocab.intern("category", "Furniture\u{1f}Living Room\u{1f}Sofas");
    let (_, outdoor_sofas) = vocab.intern(
        "category",
        "Outdoor\u{1f}Patio Furniture\u{1f}Outdoor Sofas",
    );
    let dict = vocab.column(c);
    assert_eq!(
        category_nodes(dict, "Furniture/Living Room/Sofas"),
        vec![sofas]
    );
    assert_eq!(category_nodes(dict, "Furniture/Sofas"), vec![sofas]);
    assert_eq!(category_nodes(dict, "sofas"), vec![sofas]);
    assert_eq!(category_nodes(dict, "Outdoor Sofas"), vec![outdoor_sofas]);
    assert!(category_nodes(dict, "Sofas/Furniture").is_empty());
}

#[test]
fn bitsets_keep_the_passing_documents_and_list_them_in_order() {
    let mut bits = vec![!0u64, !0u64, 0b1011];
    retain_bits(&mut bits, |d| d % 3 == 0 || d == 129);
    let docs: Vec<u32> = bit_docs(&bits);
    let expected: Vec<u32> = (0..131)
        .filter(|d| (d % 3 == 0 || *d == 129) && (*d < 128 || [128, 129, 131].contains(d)))
        .collect();
    assert_eq!(docs, expected);
    assert_eq!(bit_docs(&[0, 1 << 63]), [127]);
    assert!(bit_docs(&[]).is_empty());
}
