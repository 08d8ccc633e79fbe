//! The simulated upstream TiDB catalog: databases, tables, their keys and partitions, with the
//! table ids TiCDC would see. Loaded from YAML (`cdcform simulate --catalog FILE`) or built in.

use serde::Deserialize;
use serde_json::Value;

/// A unique key; it makes a table eligible only when all its columns are NOT NULL.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UniqueKey {
    pub columns: Vec<String>,
    #[serde(default)]
    pub not_null: bool,
}

/// One table as written in the catalog file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    #[serde(default)]
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub unique_keys: Vec<UniqueKey>,
    /// Number of partitions (0 = not partitioned).
    #[serde(default)]
    pub partitions: u32,
    #[serde(default)]
    pub view: bool,
    #[serde(default)]
    pub sequence: bool,
}

/// A table with its ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub db: String,
    pub name: String,
    pub id: i64,
    /// Physical ids of the partitions (empty when not partitioned).
    pub partition_ids: Vec<i64>,
    pub spec: TableSpec,
}

impl Table {
    /// tiflow v8.5.0 cdc/model/schema_storage.go `(*TableInfo).IsEligible` and `IsIndexUnique`
    /// (ticdc v8.5.7-release.1 pkg/common/table_info.go `IsEligible`, `HasPKOrNotNullUK`):
    /// a sequence never is; `force_replicate` makes any other table eligible; a view is; else a
    /// primary key or a unique key whose columns are all NOT NULL.
    pub fn is_eligible(&self, force_replicate: bool) -> bool {
        if self.spec.sequence {
            return false;
        }
        if force_replicate || self.spec.view {
            return true;
        }
        !self.spec.primary_key.is_empty()
            || self
                .spec
                .unique_keys
                .iter()
                .any(|k| k.not_null && !k.columns.is_empty())
    }

    /// The physical ids a processor replicates: a partitioned table replicates per partition.
    pub fn physical_ids(&self) -> Vec<i64> {
        if self.partition_ids.is_empty() {
            vec![self.id]
        } else {
            self.partition_ids.clone()
        }
    }
}

/// The upstream's tables, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub tables: Vec<Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    databases: serde_json::Map<String, Value>,
}

/// Table ids start here (TiDB's first user table ids are around 100).
const FIRST_ID: i64 = 100;

/// The catalog of `cdcform demo` and `cdcform simulate --catalog builtin`: the example
/// manifests' databases, plus tables without a usable key (`staging.import_raw`,
/// `staging.import_dedup`).
pub const BUILTIN_YAML: &str = "\
databases:
  shop:
    orders: {primary_key: [id]}
    order_items: {primary_key: [order_id, line]}
    customers: {unique_keys: [{columns: [email], not_null: true}]}
    sales: {primary_key: [id], partitions: 4}
    tmp_orders: {primary_key: [id]}
  billing:
    invoices: {primary_key: [id]}
    payments: {primary_key: [id]}
  audit:
    login_events: {primary_key: [id]}
  legacy:
    accounts: {primary_key: [id]}
  staging:
    import_raw: {}
    import_dedup: {unique_keys: [{columns: [batch, line], not_null: false}]}
";

impl Catalog {
    /// Parse the YAML form (`databases: {db: {table: {primary_key: [..], ..}}}`).
    pub fn from_yaml(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let mut tables = Vec::new();
        let mut next = FIRST_ID;
        for (db, tbls) in file.databases {
            let tbls = match tbls {
                Value::Object(m) => m,
                Value::Null => Default::default(),
                other => {
                    return Err(format!(
                        "database `{db}`: expected a map of tables, found {other}"
                    ))
                }
            };
            for (name, spec) in tbls {
                let spec: TableSpec = match spec {
                    Value::Null => TableSpec::default(),
                    v => serde_json::from_value(v)
                        .map_err(|e| format!("table `{db}.{name}`: {e}"))?,
                };
                let id = next;
                let partition_ids: Vec<i64> =
                    (1..=i64::from(spec.partitions)).map(|p| id + p).collect();
                next += 1 + i64::from(spec.partitions);
                tables.push(Table {
                    db: db.clone(),
                    name,
                    id,
                    partition_ids,
                    spec,
                });
            }
        }
        Ok(Catalog { tables })
    }

    /// Read a catalog file; the error names the file.
    pub fn load(path: &std::path::Path) -> Result<Catalog, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read catalog {}: {e}", path.display()))?;
        Catalog::from_yaml(&text).map_err(|e| {
            format!(
                "invalid catalog {}: {e}\nhelp: the form is `databases: {{shop: {{orders: {{primary_key: [id]}}}}}}`",
                path.display()
            )
        })
    }

    /// The built-in catalog (see `BUILTIN_YAML`).
    pub fn builtin() -> Catalog {
        Catalog::from_yaml(BUILTIN_YAML).expect("built-in catalog parses")
    }

    /// What a simulator without a catalog serves: one table with a primary key (`test.t1`).
    pub fn minimal() -> Catalog {
        Catalog::from_yaml("databases: {test: {t1: {primary_key: [id]}}}").expect("parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_form_parses_with_ids_and_partitions() {
        let c = Catalog::from_yaml(
            "databases:\n  shop:\n    orders: {primary_key: [id]}\n    audit_log: {}\n    \
             customers: {unique_keys: [{columns: [email], not_null: true}]}\n    \
             sales: {primary_key: [id], partitions: 4}\n  app:\n    events: {primary_key: [id]}\n",
        )
        .unwrap();
        let names: Vec<String> = c
            .tables
            .iter()
            .map(|t| format!("{}.{}", t.db, t.name))
            .collect();
        assert_eq!(
            names,
            [
                "shop.orders",
                "shop.audit_log",
                "shop.customers",
                "shop.sales",
                "app.events"
            ]
        );
        let sales = &c.tables[3];
        assert_eq!(sales.partition_ids.len(), 4);
        assert_eq!(
            sales.physical_ids(),
            vec![sales.id + 1, sales.id + 2, sales.id + 3, sales.id + 4]
        );
        assert_eq!(
            c.tables[4].id,
            sales.id + 5,
            "ids never collide with partition ids"
        );
    }

    // tiflow v8.5.0 cdc/model/schema_storage.go (*TableInfo).IsEligible / IsIndexUnique.
    #[test]
    fn eligibility_needs_a_primary_key_or_a_not_null_unique_key() {
        let c = Catalog::builtin();
        let t = |n: &str| c.tables.iter().find(|t| t.name == n).unwrap();
        assert!(t("orders").is_eligible(false));
        assert!(t("customers").is_eligible(false), "not-null unique key");
        assert!(!t("import_raw").is_eligible(false), "no key");
        assert!(!t("import_dedup").is_eligible(false), "nullable unique key");
        assert!(t("import_raw").is_eligible(true), "force_replicate");
        let seq = Table {
            db: "d".into(),
            name: "s".into(),
            id: 1,
            partition_ids: vec![],
            spec: TableSpec {
                sequence: true,
                ..TableSpec::default()
            },
        };
        assert!(!seq.is_eligible(true), "a sequence never is, even forced");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_table_named() {
        let e =
            Catalog::from_yaml("databases: {shop: {orders: {primary_keys: [id]}}}").unwrap_err();
        assert!(
            e.contains("shop.orders") && e.contains("primary_keys"),
            "{e}"
        );
    }
}
