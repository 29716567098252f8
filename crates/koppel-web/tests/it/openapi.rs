//! The OpenAPI document: served, complete, and snapshotted so any change to the API surface shows
//! up in review (`cargo insta review` or INSTA_UPDATE=always to accept an intended change).

use koppel_test_support::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    TestApp::on_every_backend(|app| async move {
        let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let served: serde_json::Value = response.json().await.unwrap();
        assert_eq!(served, koppel_web::api::openapi());
        app
    })
    .await;
}

#[test]
fn every_resource_has_its_operations_and_schemas() {
    let document = koppel_web::api::openapi();
    for spec in koppel_domain::resources::ALL {
        let collection = format!("/api/v1/administrations/{{administration}}/{}", spec.slug);
        assert!(document["paths"][&collection]["get"].is_object(), "{collection}");
        assert!(
            document["paths"][format!("{collection}/{{id}}")]["get"].is_object(),
            "{collection}/{{id}}"
        );
        let name = koppel_web::api::schema::name(spec);
        let schema = &document["components"]["schemas"][&name];
        for field in spec.fields {
            assert!(schema["properties"][field.name].is_object(), "{name}.{}", field.name);
        }
    }
    // Every $ref points at a schema that exists.
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            document["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

#[test]
fn the_document_matches_the_snapshot() {
    insta::assert_json_snapshot!("openapi", koppel_web::api::openapi());
}
