//! The OData feed as Power BI's Power Query uses it: exact headers and URL shapes, paging with a
//! pinned snapshot while a sync commits, `$metadata` validated against the CSDL schema, errors.

use koppel_datasync::engine::DataSyncRequest;
use koppel_domain::AdministrationId;
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::record::parse_create;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_store::Store;
use koppel_store::platform::Actor;
use koppel_test_support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

pub const POWER_QUERY_ACCEPT: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

pub async fn relation(store: &Store, administration: AdministrationId, code: &str) -> i64 {
    let values = parse_create(
        &RELATIONS,
        &json!({"code": code, "name": format!("Relatie {code}"), "kind": "company"}),
    )
    .unwrap();
    store
        .create_record(administration, &RELATIONS, values)
        .await
        .unwrap()
        .id
        .0
}

pub struct Feed {
    pub name: String,
    pub secret: String,
}

pub async fn feed(app: &TestApp) -> Feed {
    let (_, secret) = koppel_datasync::tokens::create(app.database.store(), app.fixture.sub1, "tests", None)
        .await
        .unwrap();
    Feed {
        name: format!("koppel-{}", app.fixture.sub1),
        secret,
    }
}

/// A GET as Power Query sends it.
pub async fn power_query(
    app: &TestApp,
    feed: &Feed,
    url: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut request = app
        .client
        .get(url)
        .basic_auth(&feed.name, Some(&feed.secret))
        .header("OData-MaxVersion", "4.0")
        .header(
            "User-Agent",
            "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)",
        );
    // An `Accept` among the extras replaces Power Query's.
    if !extra.iter().any(|(name, _)| name.eq_ignore_ascii_case("accept")) {
        request = request.header("Accept", POWER_QUERY_ACCEPT);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

pub fn feed_url(app: &TestApp, feed: &Feed, rest: &str) -> String {
    app.url(&format!("/odata/v4/{}/{rest}", feed.name))
}

#[tokio::test]
async fn power_query_reads_the_service_document_metadata_and_pages_with_a_pinned_snapshot() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let a = app.fixture.sub1;
        let mut ids = Vec::new();
        for n in 0..7 {
            ids.push(relation(&store, a, &format!("R{n}")).await);
        }
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;

        let (status, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, ""), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["odata-version"], "4.0");
        let service: Json = serde_json::from_str(&body).unwrap();
        assert!(service["@odata.context"].as_str().unwrap().starts_with("http://"));
        assert_eq!(service["value"].as_array().unwrap().len(), 16);

        let (status, headers, xml) = power_query(&app, &feed, &feed_url(&app, &feed, "$metadata"), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/xml"));
        validate_metadata(&xml);

        // Page through Customers two at a time; between pages a sync lands that deletes and adds rows.
        let first_url = feed_url(&app, &feed, "Customers?%24select=Id,Code&%24count=true");
        let (status, headers, body) = power_query(&app, &feed, &first_url, &[("Prefer", "odata.maxpagesize=2")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["preference-applied"], "odata.maxpagesize=2");
        let mut page: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(page["@odata.count"], json!(7));
        store
            .delete_record(a, &RELATIONS, koppel_domain::RecordId(ids[5]))
            .await
            .unwrap();
        relation(&store, a, "R-NEW").await;
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        let mut seen = Vec::new();
        loop {
            for row in page["value"].as_array().unwrap() {
                assert_eq!(row.as_object().unwrap().len(), 2, "$select keeps two properties");
                seen.push(row["Id"].as_i64().unwrap());
            }
            let Some(next) = page["@odata.nextLink"].as_str() else {
                break;
            };
            assert!(!next.contains(' ') && next.starts_with("http://"));
            let (status, _, body) = power_query(&app, &feed, next, &[("Prefer", "odata.maxpagesize=2")]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            page = serde_json::from_str(&body).unwrap();
        }
        assert_eq!(seen, ids, "the listing reads the snapshot it started on");
        app
    })
    .await;
}

/// `$metadata` validates against the OASIS CSDL XML schema when xmllint is installed.
fn validate_metadata(xml: &str) {
    let schema = "/work/shared/third_party/odata/edmx.xsd";
    let has_xmllint = std::process::Command::new("xmllint").arg("--version").output().is_ok();
    if !has_xmllint || !std::path::Path::new(schema).exists() {
        assert!(
            std::env::var_os("KOPPEL_REQUIRE_TOOLS").is_none(),
            "xmllint or {schema} missing and KOPPEL_REQUIRE_TOOLS is set"
        );
        eprintln!("SKIPPED: $metadata schema validation (xmllint or {schema} missing)");
        return;
    }
    let path = std::env::temp_dir().join(format!("koppel-metadata-{}.xml", std::process::id()));
    std::fs::write(&path, xml).unwrap();
    let output = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn power_query_filters_fold_and_money_is_exact() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let a = app.fixture.sub1;
        for (code, price) in [("M1", "12.50"), ("M2", "99.99"), ("M3", "0.05")] {
            let values = parse_create(
                &MATERIALS,
                &json!({"code": code, "description": code, "unit": "stuk", "price": price, "vat_rate": "21"}),
            )
            .unwrap();
            store.create_record(a, &MATERIALS, values).await.unwrap();
        }
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default()).await.unwrap();
        let feed = feed(&app).await;
        // RangeStart/RangeEnd as Power BI sends them: percent-encoded names, +01:00 offsets.
        let url = feed_url(
            &app,
            &feed,
            "Materials?%24filter=ModifiedAt%20ge%202000-01-01T00%3A00%3A00%2B01%3A00%20and%20ModifiedAt%20lt%202999-01-01T00%3A00%3A00%2B01%3A00%20and%20Price%20ge%2012.5&%24top=1000",
        );
        let (status, headers, body) = power_query(&app, &feed, &url, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("\"Price\":12.50"), "{body}");
        assert!(body.contains("\"CostPrice\":null"), "every property is written, nulls included");
        let page: Json = serde_json::from_str(&body).unwrap();
        let codes: Vec<&str> = page["value"].as_array().unwrap().iter().map(|r| r["Code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["M1", "M2"]);
        // The same request again with its ETag: 304.
        let etag = headers["etag"].to_str().unwrap().to_string();
        let (status, _, _) = power_query(&app, &feed, &url, &[("If-None-Match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);

        let (status, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, "Materials/$count?$filter=Price%20lt%201"), &[]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
        let id = page["value"][0]["Id"].as_i64().unwrap();
        let (status, _, body) = power_query(&app, &feed, &feed_url(&app, &feed, &format!("Materials({id})")), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let entity: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(entity["Code"], json!("M1"));
        assert!(entity["@odata.context"].as_str().unwrap().ends_with("$metadata#Materials/$entity"));

        for (query, expected) in [
            ("Materials?$expand=Customer", StatusCode::NOT_IMPLEMENTED),
            ("Materials?$filter=Tags/any(t:t%20eq%20'a')", StatusCode::NOT_IMPLEMENTED),
            ("Materials?$filter=Price%20eq", StatusCode::BAD_REQUEST),
            ("Materials?$filter=Colour%20eq%20'red'", StatusCode::BAD_REQUEST),
            ("Materials?$skiptoken=nonsense", StatusCode::BAD_REQUEST),
            ("Nothing", StatusCode::NOT_FOUND),
        ] {
            let (status, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, query), &[]).await;
            assert_eq!(status, expected, "{query}: {body}");
            assert_eq!(headers["odata-version"], "4.0");
            let error: Json = serde_json::from_str(&body).unwrap();
            assert!(error["error"]["code"].is_string() && error["error"]["message"].is_string(), "{body}");
        }
        app
    })
    .await;
}

/// OData's null rules, accented case mapping, the functions Power Query folds, and the answers for
/// unknown functions (400), lambdas (501) and oversized queries (400), through HTTP on both backends.
#[tokio::test]
async fn filters_follow_odata_null_rules_and_fold_functions_on_both_backends() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let a = app.fixture.sub1;
        for (code, name, vat) in [
            ("C1", "ÉLAN Café Ærø Straße", Some("NL000")),
            ("C2", "Bakker", None),
            ("C3", "Visser", Some("NL123")),
            ("C4", "de Vries", None),
        ] {
            let mut body = json!({"code": code, "name": name, "kind": "company"});
            if let Some(vat) = vat {
                body["vat_number"] = json!(vat);
            }
            let values = parse_create(&RELATIONS, &body).unwrap();
            store.create_record(a, &RELATIONS, values).await.unwrap();
        }
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let count = |filter: &'static str| {
            let url = feed_url(
                &app,
                &feed,
                &format!("Customers/$count?$filter={}", filter.replace(' ', "%20")),
            );
            let feed = &feed;
            let app = &app;
            async move {
                let (status, _, body) = power_query(app, feed, &url, &[]).await;
                assert_eq!(status, StatusCode::OK, "{filter}: {body}");
                body.parse::<usize>().unwrap()
            }
        };
        let codes = |filter: &'static str| {
            let url = feed_url(
                &app,
                &feed,
                &format!("Customers?$select=Code&$filter={}", filter.replace(' ', "%20")),
            );
            let feed = &feed;
            let app = &app;
            async move {
                let (status, _, body) = power_query(app, feed, &url, &[]).await;
                assert_eq!(status, StatusCode::OK, "{filter}: {body}");
                let page: Json = serde_json::from_str(&body).unwrap();
                page["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| row["Code"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        };
        // `not (X eq 'y')` is true where X is null, exactly as `X ne 'y'`.
        let negated = count("not (VatNumber eq 'NL000')").await;
        assert_eq!(negated, count("VatNumber ne 'NL000'").await);
        assert_eq!(negated, 3);
        assert_eq!(
            count("not (VatNumber lt 'NL1')").await,
            3,
            "lt with null is false, so not is true"
        );
        // Accented capitals are lowered the same way on both backends.
        assert_eq!(codes("tolower(Name) eq 'élan café ærø straße'").await, ["C1"]);
        assert_eq!(codes("toupper(Name) eq 'ÉLAN CAFÉ ÆRØ STRASSE'").await, ["C1"]);
        // New functions, operators and `in`.
        assert_eq!(codes("length(Name) eq 6 and indexof(Name, 'ss') eq 2").await, ["C3"]);
        assert_eq!(
            codes("Code in ('C2', 'C4') and substring(Name, 0, 2) eq 'de'").await,
            ["C4"]
        );
        assert_eq!(
            codes("Id mul 2 sub Id eq Id and -Id lt 0 and VatNumber eq null").await,
            ["C2", "C4"]
        );
        let url = feed_url(&app, &feed, "Customers?$select=Code&$orderby=length(Name)%20desc,Code");
        let (status, _, body) = power_query(&app, &feed, &url, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page: Json = serde_json::from_str(&body).unwrap();
        let ordered: Vec<&str> = page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Code"].as_str().unwrap())
            .collect();
        let first_four: Vec<&str> = ordered
            .iter()
            .copied()
            .filter(|code| code.starts_with('C') && code.len() == 2)
            .collect();
        assert_eq!(first_four, ["C1", "C4", "C2", "C3"], "{body}");

        let or_chain = (0..1_500)
            .map(|id| format!("Id eq {id}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let too_many = format!("Id in ({})", vec!["1"; 10_001].join(","));
        let order_items = vec!["Code"; 2_000].join(",");
        for (query, expected, says) in [
            (
                "Customers?$filter=lenght(Name)%20eq%201".to_string(),
                StatusCode::BAD_REQUEST,
                "not a known function",
            ),
            (
                "Customers?$filter=Name%20add%201%20eq%202".to_string(),
                StatusCode::BAD_REQUEST,
                "needs numbers",
            ),
            (
                "Customers?$filter=Addresses/any(a:a/City%20eq%20'Utrecht')".to_string(),
                StatusCode::NOT_IMPLEMENTED,
                "Addresses/",
            ),
            (
                "Customers?$filter=any(a:a%20eq%201)".to_string(),
                StatusCode::NOT_IMPLEMENTED,
                "lambda",
            ),
            (
                format!("Customers?$filter={}", too_many.replace(' ', "%20")),
                StatusCode::BAD_REQUEST,
                "too large",
            ),
            (
                format!("Customers?$orderby={order_items}"),
                StatusCode::BAD_REQUEST,
                "more than 32 items",
            ),
            (
                format!("Customers/$count?$filter={}", too_many.replace(' ', "%20")),
                StatusCode::BAD_REQUEST,
                "too large",
            ),
        ] {
            let (status, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, &query), &[]).await;
            assert_eq!(status, expected, "{}: {body}", &query[..60.min(query.len())]);
            assert_eq!(headers["odata-version"], "4.0");
            let error: Json = serde_json::from_str(&body).unwrap();
            assert!(error["error"]["message"].as_str().unwrap().contains(says), "{body}");
        }
        // A long `or` chain, as Power Query folds List.Contains, runs (it once hit SQLite's depth limit).
        let url = feed_url(
            &app,
            &feed,
            &format!("Customers/$count?$filter={}", or_chain.replace(' ', "%20")),
        );
        let (status, _, body) = power_query(&app, &feed, &url, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.parse::<usize>().unwrap() >= 4);
        app
    })
    .await;
}

#[tokio::test]
async fn the_feed_closes_clearly_for_bad_tokens_a_revoked_token_a_lapsed_licence_and_an_expired_snapshot() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let a = app.fixture.sub1;
        relation(&store, a, "R1").await;
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let root = feed_url(&app, &feed, "");
        let anonymous = app.client.get(&root).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert!(
            anonymous.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic realm=")
        );
        let wrong = Feed {
            name: feed.name.clone(),
            secret: "kpf_wrong".into(),
        };
        assert_eq!(power_query(&app, &wrong, &root, &[]).await.0, StatusCode::UNAUTHORIZED);

        // A listing started, then its snapshot is pruned: 410 Gone.
        let (_, _, body) = power_query(
            &app,
            &feed,
            &feed_url(&app, &feed, "Customers"),
            &[("Prefer", "odata.maxpagesize=1")],
        )
        .await;
        assert!(!body.contains("nextLink"), "one row fits one page");
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        koppel_datasync::state::prune(&store, a, chrono::Duration::zero())
            .await
            .unwrap();
        let (status, _, body) =
            power_query(&app, &feed, &feed_url(&app, &feed, "Customers?$skiptoken=s1-1-1"), &[]).await;
        assert_eq!(status, StatusCode::GONE, "{body}");
        assert!(body.contains("snapshot_expired"));

        store
            .set_licence(
                app.fixture.environment,
                PowerUp::PowerBi,
                LicenceState::Inactive,
                0,
                Actor::SYSTEM,
            )
            .await
            .unwrap();
        let (status, _, body) = power_query(&app, &feed, &root, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("licence_inactive"));

        let tokens = koppel_datasync::tokens::list(&store, a).await.unwrap();
        koppel_datasync::tokens::revoke(&store, a, tokens[0].id).await.unwrap();
        let (status, headers, body) = power_query(&app, &feed, &root, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key("www-authenticate"));
        assert!(body.contains("revoked"), "{body}");
        app
    })
    .await;
}

/// Server-driven paging honours `$top`, `$skip` and `$orderby` across pages.
#[tokio::test]
async fn paging_honours_top_skip_and_orderby() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let a = app.fixture.sub1;
        for n in 0..7 {
            relation(&store, a, &format!("R{n}")).await;
        }
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        for (query, expected) in [
            (
                "Customers?$orderby=Code%20desc&$top=5&$select=Code",
                vec!["R6", "R5", "R4", "R3", "R2"],
            ),
            ("Customers?$skip=2&$top=3&$select=Code", vec!["R2", "R3", "R4"]),
            ("Customers?$skip=5&$select=Code", vec!["R5", "R6"]),
            ("Customers?$top=0", vec![]),
        ] {
            let mut url = feed_url(&app, &feed, query);
            let mut codes = Vec::new();
            loop {
                let (status, _, body) = power_query(&app, &feed, &url, &[("Prefer", "odata.maxpagesize=2")]).await;
                assert_eq!(status, StatusCode::OK, "{query}: {body}");
                let page: Json = serde_json::from_str(&body).unwrap();
                let rows = page["value"].as_array().unwrap();
                assert!(rows.len() <= 2);
                codes.extend(rows.iter().map(|row| row["Code"].as_str().unwrap().to_string()));
                match page["@odata.nextLink"].as_str() {
                    Some(next) => url = next.to_string(),
                    None => break,
                }
            }
            assert_eq!(codes, expected, "{query}");
        }
        app
    })
    .await;
}

/// Whether python3 can import `module`; without it the walk is skipped loudly, unless
/// KOPPEL_REQUIRE_TOOLS=1 makes that a failure.
fn python_has(module: &str, install: &str) -> bool {
    let available = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(
            std::env::var_os("KOPPEL_REQUIRE_TOOLS").is_none(),
            "python3 with {module} is required ({install})"
        );
        eprintln!("\n*** SKIPPED: the {module} walk of the feed ({install}) ***\n");
    }
    available
}

/// Runs a walker script against the feed and parses what it prints.
async fn walk(app: &TestApp, feed: &Feed, script: &str) -> Json {
    let script = format!("{}/tests/it/{script}", env!("CARGO_MANIFEST_DIR"));
    let arguments = [script, feed_url(app, feed, ""), feed.name.clone(), feed.secret.clone()];
    // A blocking child process, off the runtime's threads: the server must keep answering it.
    let output = tokio::task::spawn_blocking(move || std::process::Command::new("python3").args(arguments).output())
        .await
        .unwrap()
        .expect("python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Real third-party OData v4 clients from PyPI read every entity set: python-odata (row counts and
/// money totals equal the source) and odatapy (following server-driven paging, 5 rows a page).
#[tokio::test]
async fn third_party_clients_walk_every_entity_set_and_agree_with_the_source() {
    let python_odata = python_has("odata", "pip install python-odata==0.8.1");
    let odatapy = python_has("odatapy.client", "pip install 'odatapy[client]==5.3.0'");
    if !python_odata && !odatapy {
        return;
    }
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let a = app.fixture.sub1;
        for n in 0..12 {
            relation(&store, a, &format!("R{n}")).await;
        }
        for (code, price) in [("M1", "12.50"), ("M2", "1234.99"), ("M3", "0.01")] {
            let values = parse_create(
                &MATERIALS,
                &json!({"code": code, "description": code, "unit": "stuk", "price": price, "vat_rate": "21"}),
            )
            .unwrap();
            store.create_record(a, &MATERIALS, values).await.unwrap();
        }
        koppel_datasync::engine::run(&store, a, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let mut expected = serde_json::Map::new();
        for reported in koppel_datasync::dataset::REPORTED {
            let source = store
                .list_records(
                    a,
                    reported.spec,
                    &koppel_store::records::ListQuery {
                        limit: 1000,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            expected.insert(reported.entity_set.to_string(), json!(source.records.len()));
        }
        expected.insert("SyncRuns".to_string(), json!(1));
        if python_odata {
            let walked = walk(&app, &feed, "odata_walk.py").await;
            for (set, rows) in &expected {
                assert_eq!(&walked[set]["rows"], rows, "python-odata: {set}");
            }
            assert_eq!(walked["Materials"]["totals"]["Price"], json!("1247.50"));
        }
        if odatapy {
            let walked = walk(&app, &feed, "odatapy_walk.py").await;
            for (set, rows) in &expected {
                assert_eq!(&walked[set]["rows"], rows, "odatapy: {set}");
                assert_eq!(&walked[set]["count"], rows, "odatapy /$count: {set}");
            }
            assert_eq!(walked["Customers"]["pages"], json!(3), "12 customers, 5 a page");
        }
        app
    })
    .await;
}
