//! One page of a listing, written as JSON while its rows come from the database.
//!
//! The answer starts only once the first chunk is ready, so a query that fails at once (a
//! statement the database refuses, say) still gets an OData error with its status. A failure after
//! the first chunk has gone out aborts the body: the connection is closed mid-chunk and the client
//! sees a broken answer, never a well-formed page that silently ends early.

use axum::body::{Body, Bytes};
use koppel_datasync::feed::{ColumnKind, FeedColumn, SkipToken, write_json_string, write_value};
use koppel_datasync::read::PageRows;
use koppel_domain::record::Value;
use koppel_odata::EdmType;
use koppel_store::StoreError;
use tokio::sync::mpsc;

/// Bytes of a page body sent at a time; with the channels' capacities this bounds a page's memory.
const CHUNK_BYTES: usize = 64 * 1024;

/// Writes one row as a JSON object. With `ieee754`, `Edm.Int64` and `Edm.Decimal` values are JSON
/// strings (OData JSON Format §3.2, `IEEE754Compatible=true`).
pub fn write_row(body: &mut String, columns: &[&FeedColumn], row: &[Value], ieee754: bool) {
    body.push('{');
    for (index, (column, value)) in columns.iter().zip(row).enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push('"');
        body.push_str(&column.property);
        body.push_str("\":");
        write_property(body, column, value, ieee754);
    }
    body.push('}');
}

/// One value as JSON, quoted where `IEEE754Compatible=true` wants a string.
pub fn write_property(body: &mut String, column: &FeedColumn, value: &Value, ieee754: bool) {
    if ieee754 && needs_quotes(column) && !matches!(value, Value::Null) {
        body.push('"');
        write_value(body, column, value);
        body.push('"');
    } else {
        write_value(body, column, value);
    }
}

fn needs_quotes(column: &FeedColumn) -> bool {
    matches!(column.edm_type, EdmType::Int64 | EdmType::Decimal { .. })
        || matches!(column.kind, ColumnKind::Scaled { .. })
}

/// The query string for a next link: the client's options without its skip token, spaces as %20.
fn next_query(raw_query: &str, token: &SkipToken) -> String {
    let mut parts: Vec<String> = raw_query
        .split('&')
        .filter(|part| !part.is_empty())
        .filter(|part| {
            let name = part.split('=').next().unwrap_or("");
            let name = koppel_odata::query::percent_decode(name)
                .unwrap_or_default()
                .to_lowercase();
            name != "$skiptoken" && name != "skiptoken"
        })
        .map(|part| part.replace(['+', ' '], "%20"))
        .collect();
    parts.push(format!("$skiptoken={}", token.encode()));
    parts.join("&")
}

/// What a page writes around its rows.
pub struct PageWriter {
    pub columns: Vec<&'static FeedColumn>,
    pub ieee754: bool,
    /// `<root><Set>?`
    pub next_link_base: String,
    pub raw_query: String,
    /// Everything before the first row.
    pub head: String,
}

impl PageWriter {
    /// Starts writing the page from its rows (the key is the last value of each row) and waits for
    /// its first chunk. `Err` when the source failed before anything was sent.
    pub async fn start(self, rows: PageRows) -> Result<Body, StoreError> {
        let (chunks, mut receiver) = mpsc::channel::<Result<Bytes, StoreError>>(4);
        tokio::spawn(self.write(rows, chunks));
        match receiver.recv().await {
            Some(Ok(first)) => {
                let rest = futures_util::stream::unfold(receiver, |mut receiver| async move {
                    let chunk = receiver.recv().await?;
                    let chunk =
                        chunk.map_err(|_| std::io::Error::other("the feed page was cut off by a database error"));
                    Some((chunk, receiver))
                });
                let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) });
                // Fused: a wrapping layer (compression) may poll again after the end.
                let stream = futures_util::StreamExt::fuse(futures_util::StreamExt::chain(first, rest));
                Ok(Body::from_stream(stream))
            }
            Some(Err(error)) => Err(error),
            None => Err(StoreError::Internal("the feed page writer stopped".into())),
        }
    }

    async fn write(self, mut rows: PageRows, chunks: mpsc::Sender<Result<Bytes, StoreError>>) {
        let mut buffer = self.head.clone();
        let mut written = 0_u64;
        let mut sent_any = false;
        loop {
            match rows.next_batch().await {
                Ok(Some(batch)) => {
                    for row in batch {
                        if written > 0 {
                            buffer.push(',');
                        }
                        write_row(&mut buffer, &self.columns, &row[..self.columns.len()], self.ieee754);
                        written += 1;
                    }
                    if buffer.len() >= CHUNK_BYTES {
                        // The next chunk starts at full size instead of growing through reallocations.
                        let full = std::mem::replace(&mut buffer, String::with_capacity(CHUNK_BYTES * 2));
                        if chunks.send(Ok(Bytes::from(full))).await.is_err() {
                            return; // The client went away.
                        }
                        sent_any = true;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    if sent_any {
                        tracing::error!(error = %error, "reading a feed page failed after its answer started; the answer is cut off");
                    }
                    let _ = chunks.send(Err(error)).await;
                    return;
                }
            }
        }
        buffer.push(']');
        if let Some(next) = rows.next_token() {
            let link = format!("{}{}", self.next_link_base, next_query(&self.raw_query, &next));
            buffer.push_str(",\"@odata.nextLink\":");
            write_json_string(&mut buffer, &link);
        }
        buffer.push('}');
        let _ = chunks.send(Ok(Bytes::from(buffer))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use koppel_datasync::feed::feed;

    /// A page of at most `limit` rows from a source that sends `rows` rows in batches of 256 and
    /// then fails (or not).
    fn source(limit: u64, rows: i64, fail: bool) -> PageRows {
        PageRows::start(
            limit,
            true,
            (1, 0),
            move |sender: mpsc::Sender<Vec<Vec<Value>>>| async move {
                let mut sent = 0;
                while sent < rows {
                    let batch: Vec<Vec<Value>> = (sent..(sent + 256).min(rows))
                        .map(|id| vec![Value::Integer(id), Value::Integer(id)])
                        .collect();
                    sent += batch.len() as i64;
                    if sender.send(batch).await.is_err() {
                        return Ok(sent as u64);
                    }
                }
                if fail {
                    return Err(StoreError::Internal("injected: the database went away".into()));
                }
                Ok(sent as u64)
            },
        )
    }

    fn writer() -> PageWriter {
        let set = feed().set("Customers").unwrap();
        PageWriter {
            columns: vec![&set.columns[0]],
            ieee754: false,
            next_link_base: "http://x/odata/v4/koppel-1/Customers?".into(),
            raw_query: String::new(),
            head: "{\"value\":[".into(),
        }
    }

    /// Reads a body to the end: the bytes before an error, and whether it ended in one.
    async fn drain(mut body: Body) -> (Vec<u8>, bool) {
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => bytes.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..])),
                Err(_) => return (bytes, true),
            }
        }
        (bytes, false)
    }

    #[tokio::test]
    async fn a_failure_after_the_first_chunk_aborts_the_body() {
        // 20,000 rows are several chunks: the failure comes after the answer has started.
        let body = writer()
            .start(source(50_000, 20_000, true))
            .await
            .expect("the answer starts");
        let (bytes, failed) = drain(body).await;
        assert!(failed, "the body ends in an error, so the server cuts the connection");
        assert!(
            bytes.len() >= CHUNK_BYTES,
            "the first chunk went out before the failure"
        );
        assert!(
            serde_json::from_slice::<serde_json::Value>(&bytes).is_err(),
            "never a well-formed page"
        );
    }

    /// Over a real connection (plain and gzip-compressed, as the app serves it): the client gets
    /// a broken answer, never a complete one.
    #[tokio::test]
    async fn over_http_the_client_sees_the_answer_cut_off() {
        async fn page() -> axum::response::Response {
            let body = writer()
                .start(source(50_000, 20_000, true))
                .await
                .expect("the answer starts");
            axum::response::IntoResponse::into_response(body)
        }
        let app = axum::Router::new()
            .route("/page", axum::routing::get(page))
            .layer(tower_http::compression::CompressionLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        for encoding in ["identity", "gzip"] {
            let response = client
                .get(format!("http://{address}/page"))
                .header("Accept-Encoding", encoding)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "the status went out before the failure");
            let outcome = response.bytes().await;
            assert!(outcome.is_err(), "{encoding}: the body must not end normally");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_failure_before_the_first_chunk_is_an_error_answer() {
        let outcome = writer().start(source(50_000, 10, true)).await;
        assert!(matches!(outcome, Err(StoreError::Internal(_))));
    }

    #[tokio::test]
    async fn a_page_without_failure_is_complete_with_its_next_link() {
        let body = writer().start(source(300, 1_000, false)).await.unwrap();
        let (bytes, failed) = drain(body).await;
        assert!(!failed);
        let page: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(page["value"].as_array().unwrap().len(), 300);
        assert_eq!(
            page["@odata.nextLink"],
            "http://x/odata/v4/koppel-1/Customers?$skiptoken=s1-300-299"
        );
    }
}
