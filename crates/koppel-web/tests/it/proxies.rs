//! Links behind reverse proxies: `http.public_url` wins everywhere a URL is written (feed context and
//! next links, the service document, the Data Sync page, its Power Query text, the REST status) and
//! sets the origin browser writes must come from; otherwise the first hop of `Forwarded` or
//! `X-Forwarded-*` counts, and only from a trusted proxy.

use crate::odata::{Feed, feed, feed_url, power_query, relation};
use koppel_datasync::engine::DataSyncRequest;
use koppel_test_support::TestApp;
use koppel_test_support::TestDatabase;
use koppel_web::WebConfig;
use koppel_web::external::{PublicUrl, TrustedProxies};
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

/// Runs `test` on every backend with `config`, after three customers and a sync.
async fn with_config<F, Fut>(config: WebConfig, test: F)
where
    F: Fn(TestApp, Feed) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
    for database in TestDatabase::all().await {
        let app = TestApp::spawn_with(database, config.clone()).await;
        for n in 0..3 {
            relation(app.database.store(), app.fixture.sub1, &format!("R{n}")).await;
        }
        koppel_datasync::engine::run(app.database.store(), app.fixture.sub1, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let app = test(app, feed).await;
        app.stop().await;
    }
}

/// The context URL and next link of the first one-row page of Customers, with `headers`.
async fn links(app: &TestApp, feed: &Feed, headers: &[(&str, &str)]) -> (String, String) {
    let mut all = vec![("Prefer", "odata.maxpagesize=1")];
    all.extend_from_slice(headers);
    let (status, _, body) = power_query(app, feed, &feed_url(app, feed, "Customers"), &all).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: Json = serde_json::from_str(&body).unwrap();
    (
        page["@odata.context"].as_str().unwrap().to_string(),
        page["@odata.nextLink"].as_str().unwrap().to_string(),
    )
}

fn trusting(ranges: &[&str]) -> WebConfig {
    WebConfig {
        trusted_proxies: TrustedProxies::parse(ranges).unwrap(),
        ..WebConfig::default()
    }
}

#[tokio::test]
async fn a_trusted_proxy_s_first_hop_makes_the_links_chained_or_rfc_7239() {
    with_config(trusting(&["127.0.0.1/32", "::1"]), |app, feed| async move {
        let root = format!("https://bi.example.nl/odata/v4/{}/", feed.name);
        let (context, next) = links(
            &app,
            &feed,
            &[
                ("X-Forwarded-Proto", "https, http"),
                ("X-Forwarded-Host", "bi.example.nl, koppel.internal:8080"),
            ],
        )
        .await;
        assert_eq!(context, format!("{root}$metadata#Customers"));
        assert!(next.starts_with(&format!("{root}Customers?$skiptoken=")), "{next}");

        let (context, next) = links(
            &app,
            &feed,
            &[(
                "Forwarded",
                "for=198.51.100.7;Proto=HTTPS;host=\"bi.example.nl:8443\", for=10.0.0.2;proto=http;host=internal",
            )],
        )
        .await;
        let root_8443 = format!("https://bi.example.nl:8443/odata/v4/{}/", feed.name);
        assert_eq!(context, format!("{root_8443}$metadata#Customers"));
        assert!(next.starts_with(&root_8443), "{next}");

        // A proxy that passes the host but no scheme: http, from the forwarded host.
        let (context, _) = links(&app, &feed, &[("X-Forwarded-Host", "bi.example.nl")]).await;
        assert!(context.starts_with("http://bi.example.nl/"), "{context}");
        // A forged host that is no authority is ignored.
        let (context, _) = links(&app, &feed, &[("X-Forwarded-Host", "evil.example/x?")]).await;
        assert!(context.starts_with(&format!("http://{}/", app.address)), "{context}");

        let (_, _, body) = power_query(
            &app,
            &feed,
            &feed_url(&app, &feed, ""),
            &[("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "bi.example.nl")],
        )
        .await;
        let service: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(service["@odata.context"], json!(format!("{root}$metadata")));
        app
    })
    .await;
}

#[tokio::test]
async fn forwarding_headers_from_peers_not_trusted_are_ignored() {
    for config in [WebConfig::default(), trusting(&["10.0.0.0/8", "fd00::/8"])] {
        with_config(config, |app, feed| async move {
            let own = format!("http://{}/odata/v4/{}/", app.address, feed.name);
            let (context, next) = links(
                &app,
                &feed,
                &[
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "evil.example"),
                    ("Forwarded", "proto=https;host=evil.example"),
                ],
            )
            .await;
            assert_eq!(context, format!("{own}$metadata#Customers"));
            assert!(next.starts_with(&own), "{next}");
            app
        })
        .await;
    }
}

#[tokio::test]
async fn public_url_wins_in_the_feed_the_page_the_m_text_and_the_allowed_origin() {
    let config = WebConfig {
        public_url: Some(PublicUrl::parse("https://bi.example.nl").unwrap()),
        trusted_proxies: TrustedProxies::parse(&["127.0.0.1"]).unwrap(),
        ..WebConfig::default()
    };
    with_config(config, |app, feed| async move {
        let root = format!("https://bi.example.nl/odata/v4/{}/", feed.name);
        for headers in [
            vec![],
            vec![("X-Forwarded-Proto", "http"), ("X-Forwarded-Host", "other.example")],
        ] {
            let (context, next) = links(&app, &feed, &headers).await;
            assert_eq!(context, format!("{root}$metadata#Customers"));
            assert!(next.starts_with(&format!("{root}Customers?")), "{next}");
            // Following the public next link (here: on the real address) reads page 2.
            let path = next.strip_prefix("https://bi.example.nl").unwrap();
            let (status, _, body) =
                power_query(&app, &feed, &app.url(path), &[("Prefer", "odata.maxpagesize=1")]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (_, _, body) = power_query(&app, &feed, &feed_url(&app, &feed, ""), &[]).await;
        assert!(body.contains(&format!("\"{root}$metadata\"")), "{body}");

        // The REST status and the Data Sync page, with their Power Query text.
        let token = app.token(&app.fixture.admin).await;
        let status = app
            .get(
                &token,
                &format!("/api/v1/administrations/{}/datasync", app.fixture.sub1),
            )
            .await;
        assert_eq!(status.body["feed_url"], json!(root));
        assert!(
            status.body["power_query"]
                .as_str()
                .unwrap()
                .contains(&format!("OData.Feed(\"{root}\"")),
            "{}",
            status.body["power_query"]
        );
        let fixture = app.fixture.clone();
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let path = format!("/a/{}/settings/datasync", fixture.sub1);
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&format!("value=\"{root}\"")), "the feed URL");
        assert!(
            page.body.contains(&format!("OData.Feed(&#34;{root}&#34;"))
                || page.body.contains(&format!("OData.Feed(&quot;{root}&quot;")),
            "the M text"
        );
        assert!(
            !page.body.contains(&app.address.to_string()),
            "no internal address on the page"
        );

        // Browser writes: the public origin is ours, the internal address is not.
        let csrf = page.csrf();
        let post = |origin: String| {
            let request = app
                .client
                .post(app.url(&format!("{path}/autosync")))
                .header(reqwest::header::COOKIE, client.cookie_header())
                .header("Origin", origin)
                .form(&[("csrf", csrf.as_str()), ("autosync", "on")]);
            async move { request.send().await.unwrap().status() }
        };
        assert_eq!(post("https://bi.example.nl".into()).await, StatusCode::SEE_OTHER);
        assert_eq!(post("https://bi.example.nl:443".into()).await, StatusCode::SEE_OTHER);
        assert_eq!(post(format!("http://{}", app.address)).await, StatusCode::FORBIDDEN);
        assert_eq!(post("http://bi.example.nl".into()).await, StatusCode::FORBIDDEN);
        drop(client);
        app
    })
    .await;
}

/// Without `public_url`, a browser behind a trusted proxy posts from the forwarded origin; the same
/// Origin from an untrusted peer is cross-site.
#[tokio::test]
async fn the_cross_site_check_follows_the_trusted_proxy_s_host() {
    for (config, expected) in [
        (trusting(&["127.0.0.1"]), StatusCode::SEE_OTHER),
        (WebConfig::default(), StatusCode::FORBIDDEN),
    ] {
        with_config(config, |app, _| async move {
            let fixture = app.fixture.clone();
            let mut client = crate::pages::PageClient::new(&app);
            client.log_in(&fixture.admin).await;
            let path = format!("/a/{}/settings/datasync", fixture.sub1);
            let page = client.get(&path).await;
            let response = app
                .client
                .post(app.url(&format!("{path}/autosync")))
                .header(reqwest::header::COOKIE, client.cookie_header())
                .header("Origin", "https://bi.example.nl")
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-Host", "bi.example.nl")
                .form(&[("csrf", page.csrf().as_str()), ("autosync", "on")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), expected);
            drop(client);
            app
        })
        .await;
    }
}
