//! One valid record of every resource in an administration, made from the specs themselves, so
//! tests that must cover every resource do not fall behind when a resource is added.

use koppel_domain::AdministrationId;
use koppel_domain::record::{FieldKind, JsonShape, ResourceSpec, Value};
use koppel_domain::resources;
use koppel_jobs::storage::jobs::{ClaimRequest, Finish, NewJob};
use koppel_store::Store;
use serde_json::json;
use std::collections::HashMap;

/// The id and code of the sample of each resource.
pub struct Samples {
    pub ids: HashMap<&'static str, i64>,
    pub codes: HashMap<&'static str, String>,
}

fn value(spec: &ResourceSpec, kind: FieldKind, name: &str, samples: &Samples, store: &Store, tag: &str) -> Value {
    match kind {
        FieldKind::Text { max_len, .. } => Value::Text(format!("Test {name}").chars().take(max_len).collect()),
        FieldKind::Code => Value::Text(format!("S-{}-{tag}", spec.table.len())),
        FieldKind::Integer { min, .. } => Value::Integer(min),
        FieldKind::Bool => Value::Bool(false),
        FieldKind::Date => Value::Date(store.now().date_naive()),
        FieldKind::Timestamp => Value::Timestamp(store.now()),
        FieldKind::Money => Value::Integer(1050),
        FieldKind::Quantity => Value::Integer(1500),
        FieldKind::Vat => Value::Text("21".into()),
        FieldKind::Choice(choices) => Value::Text(choices[0].to_string()),
        FieldKind::Ref(target) => Value::Integer(samples.ids[target]),
        FieldKind::CodeRef(target) => Value::Text(samples.codes[target].clone()),
        FieldKind::Json(shape) => Value::Text(match shape {
            JsonShape::FormFields => r#"[{"key":"opmerking","label":"Opmerking","type":"text"}]"#.to_string(),
            JsonShape::WorkflowSteps => {
                format!(r#"[{{"name":"Inspectie","form_code":"{}"}}]"#, samples.codes["forms"])
            }
            JsonShape::CodeList(target) => format!(r#"["{}"]"#, samples.codes[target]),
            JsonShape::Options => "{}".to_string(),
            JsonShape::Choices => r#"["ja","nee"]"#.to_string(),
        }),
    }
}

/// A finished run of the `probe` kind, so the run endpoints have a real id in every matrix. Made
/// through the queue like any run: enqueued, claimed, finished.
async fn finished_run(store: &Store, administration: AdministrationId) -> koppel_jobs::RunId {
    let enqueued =
        koppel_jobs::enqueue_committed(store, &NewJob::new("probe", json!({})).administration(administration))
            .await
            .expect("enqueue");
    let request = ClaimRequest {
        worker: "samples",
        kinds: &["probe"],
        limit: 1,
        lease: chrono::Duration::seconds(60),
        reclaim: koppel_jobs::storage::jobs::Reclaim::DeadWorkersFirst,
    };
    let job = koppel_jobs::testing::claim(store, &request)
        .await
        .expect("claim")
        .jobs
        .pop()
        .expect("the sample job is due");
    assert_eq!(
        job.id,
        enqueued.job(),
        "no other probe job is queued while samples are made"
    );
    let done = Finish::Succeeded {
        partial: false,
        message: None,
        counts: None,
    };
    assert!(
        koppel_jobs::testing::finish(store, &job.lease().expect("claimed"), &done)
            .await
            .expect("finish")
    );
    enqueued.run()
}

/// Creates one record of every resource, parents first, and a finished run. `tag` keeps codes
/// unique per call.
pub async fn create_all(store: &Store, administration: AdministrationId, tag: &str) -> Samples {
    let mut samples = Samples {
        ids: HashMap::new(),
        codes: HashMap::new(),
    };
    for spec in resources::ALL {
        let values: Vec<Value> = spec
            .fields
            .iter()
            .map(|f| value(spec, f.kind, f.name, &samples, store, tag))
            .collect();
        let record = store
            .create_record(administration, spec, values)
            .await
            .unwrap_or_else(|e| panic!("sample {}: {e:?}", spec.slug));
        if let Some((index, _)) = spec.field("code") {
            samples
                .codes
                .insert(spec.slug, record.values[index].as_str().unwrap_or_default().to_string());
        }
        samples.ids.insert(spec.slug, record.id.0);
    }
    samples.ids.insert("runs", finished_run(store, administration).await.0);
    samples
}
