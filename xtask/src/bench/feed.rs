//! `cargo xtask bench feed`: reading WorkOrders through the OData feed the way Power BI does, one
//! request after another following `@odata.nextLink`, with the server's peak memory.
//!
//! Per backend: a fresh database, `koppel demo --scale N` from the release binary, a full Data Sync
//! and a feed token made through koppel-datasync, `koppel serve` on a free loopback port, then one reader
//! with HTTP Basic pages through the whole entity set at the server's default page size, `--reads` times
//! (default 3, each reported on its own). Every page is parsed (to find the next link and count rows)
//! and each read's total is checked against the sync. With `--gzip` the same number of reads follows
//! with `Accept-Encoding: gzip, deflate` (as Power BI sends it), reporting the bytes on the wire and
//! the server's CPU next to the uncompressed reads.

use super::cpu;
use super::load::Reader;
use super::rest::{benchmark_main, build_koppel, interrupted, seed};
use super::scratch::{Backend, BackendChoice, Scratch, choose_backends};
use super::server::Server;
use crate::cargo::seconds;
use anyhow::{Context, bail};
use base64::Engine;
use hyper::header::HeaderValue;
use koppel_datasync::engine::DataSyncRequest;
use koppel_store::{ConnectOptions, Store, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct FeedArgs {
    /// Database backend(s). Default: both when KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL
    /// names a PostgreSQL server (a throw-away database is created on it), else sqlite.
    #[arg(long, value_enum)]
    backend: Option<BackendChoice>,
    /// Work orders `koppel demo --scale` generates.
    #[arg(long, default_value = "1000000", value_parser = super::parse_count)]
    scale: u64,
    /// Full reads of the entity set per backend, one after another on the same server; each is reported.
    #[arg(long, default_value = "3", value_parser = clap::value_parser!(u64).range(1..=100))]
    reads: u64,
    /// A `$filter` for the reads (plain text, encoded here), such as
    /// "year(CreatedAt) ge 2020 and length(Description) gt 10 and TotalExclVat mul 2 gt 100";
    /// the rows read are then checked against the feed's own `/$count` with the same filter.
    #[arg(long)]
    filter: Option<String>,
    /// After the plain reads, as many with `Accept-Encoding: gzip, deflate` (compressed answers).
    #[arg(long)]
    gzip: bool,
}

/// `$filter=…` for a feed URL, percent-encoded.
fn filter_query(filter: &str) -> String {
    let mut encoded = String::from("$filter=");
    for byte in filter.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~'(),".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// What one backend measured.
struct Measured {
    backend: Backend,
    sync_rows: u64,
    sync_elapsed: Duration,
    reads: Vec<Read>,
    /// VmHWM of the server before the first read (start-up and /readyz) and after the last.
    peak_before: Option<u64>,
    peak_after: Option<u64>,
}

/// One full read of the entity set.
struct Read {
    /// Whether the answers were asked for (and came) gzip-compressed.
    compressed: bool,
    rows: u64,
    pages: u64,
    /// JSON bytes after decompression.
    bytes: u64,
    /// Body bytes as sent (compressed or not).
    wire_bytes: u64,
    elapsed: Duration,
    slowest_page: Duration,
    server_cpu: Option<Duration>,
    /// CPU time of this process (the reader: HTTP, JSON parsing) during the read.
    reader_cpu: Option<Duration>,
}

/// A page of the feed, parsed only as far as the reader needs.
#[derive(serde::Deserialize)]
struct Page {
    value: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

pub fn run(arguments: FeedArgs) -> anyhow::Result<()> {
    let (backends, postgres_url) = choose_backends(arguments.backend, "feed")?;
    let koppel = build_koppel()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut results = Vec::new();
        for backend in backends {
            let scratch = Scratch::create(backend, postgres_url.as_deref()).await?;
            eprintln!("\nbench feed [{}]: {}", backend.name(), scratch.describe());
            let outcome = tokio::select! {
                outcome = measure(&scratch, &koppel, &arguments) => outcome,
                signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
            };
            let removed = scratch.remove().await;
            let measured = outcome.with_context(|| format!("the {} feed benchmark failed", backend.name()))?;
            removed?;
            results.push(measured);
        }
        print_summary(arguments.scale, arguments.filter.as_deref(), &results);
        Ok(())
    })
}

async fn measure(scratch: &Scratch, koppel: &std::path::Path, arguments: &FeedArgs) -> anyhow::Result<Measured> {
    seed(scratch, koppel, arguments.scale).await?;
    let store = Store::connect(
        &ConnectOptions {
            url: scratch.database_url.clone(),
            max_connections: 2,
        },
        Arc::new(SystemClock),
    )
    .await
    .context("could not open the benchmark database")?;
    let administration = benchmark_main(&store).await?.id;
    eprintln!("bench feed: full Data Sync of administration {administration}");
    let started = Instant::now();
    let full = DataSyncRequest::full();
    let synced = koppel_datasync::engine::run(&store, administration, &full).await?;
    let sync_elapsed = started.elapsed();
    let expected = synced
        .tables
        .iter()
        .find(|table| table.entity_set == "WorkOrders")
        .map(|table| table.inserted + table.updated)
        .context("the sync wrote no WorkOrders")?;
    let (_, secret) = koppel_datasync::tokens::create(&store, administration, "cargo xtask bench feed", None).await?;
    store.close().await;

    let feed = format!("koppel-{}", administration.0);
    let server = Server::start(koppel, &scratch.database_url, &scratch.directory).await?;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{feed}:{secret}"));
    let mut reader = Reader::connect(server.address, HeaderValue::from_str(&format!("Basic {credentials}"))?).await?;
    let origin = format!("http://{}", server.address);
    let peak_before = server.peak_memory_bytes();
    let query = arguments.filter.as_deref().map(filter_query);
    let expected = match &query {
        None => expected,
        Some(query) => {
            let path = format!("/odata/v4/{feed}/WorkOrders/$count?{query}");
            let answer = reader.get(&path).await?;
            if answer.status != 200 {
                bail!(
                    "GET {path} answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
            }
            String::from_utf8_lossy(&answer.body)
                .trim()
                .parse()
                .with_context(|| format!("GET {path}: not a count"))?
        }
    };
    let mut reads = Vec::new();
    let encodings: &[Option<&str>] = if arguments.gzip {
        &[None, Some("gzip, deflate")]
    } else {
        &[None]
    };
    for encoding in encodings {
        reader.set_accept_encoding(encoding.map(HeaderValue::from_static));
        for read in 1..=arguments.reads {
            eprintln!(
                "bench feed: read {read} of {}{}: {expected} WorkOrders from {origin}/odata/v4/{feed}/WorkOrders",
                arguments.reads,
                encoding.map_or(String::new(), |encoding| format!(" with Accept-Encoding: {encoding}"))
            );
            let measured = read_all(&mut reader, &server, &origin, &feed, query.as_deref()).await?;
            if measured.rows != expected {
                bail!("the feed gave {} WorkOrders, the sync wrote {expected}", measured.rows);
            }
            if measured.compressed != encoding.is_some() {
                bail!("asked for compression {encoding:?}, but the answers came otherwise");
            }
            reads.push(measured);
        }
    }
    let peak_after = server.peak_memory_bytes();
    Ok(Measured {
        backend: scratch.backend,
        sync_rows: synced.inserted() + synced.updated(),
        sync_elapsed,
        reads,
        peak_before,
        peak_after,
    })
}

/// Pages through all WorkOrders from the first page to the last next link.
async fn read_all(
    reader: &mut Reader,
    server: &Server,
    origin: &str,
    feed: &str,
    query: Option<&str>,
) -> anyhow::Result<Read> {
    let cpu_before = server.cpu_time();
    let reader_before = cpu::cpu_time("self");
    let started = Instant::now();
    let mut path = match query {
        None => format!("/odata/v4/{feed}/WorkOrders"),
        Some(query) => format!("/odata/v4/{feed}/WorkOrders?{query}"),
    };
    let (mut rows, mut pages, mut bytes, mut slowest_page) = (0_u64, 0_u64, 0_u64, Duration::ZERO);
    let (mut wire_bytes, mut compressed) = (0_u64, false);
    loop {
        let asked = Instant::now();
        let answer = reader.get(&path).await?;
        slowest_page = slowest_page.max(asked.elapsed());
        if answer.status != 200 {
            bail!(
                "GET {path} answered {}: {}{}",
                answer.status,
                String::from_utf8_lossy(&answer.body),
                server.log_tail()
            );
        }
        wire_bytes += answer.body.len() as u64;
        let body = match answer.content_encoding.as_deref() {
            None => answer.body.to_vec(),
            Some("gzip") => {
                compressed = true;
                let mut json = Vec::with_capacity(answer.body.len() * 8);
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&answer.body[..]), &mut json)
                    .with_context(|| format!("GET {path}: the gzip answer does not decompress"))?;
                json
            }
            Some(other) => bail!("GET {path}: unexpected Content-Encoding {other}"),
        };
        let page: Page = serde_json::from_slice(&body).with_context(|| format!("GET {path}: not a feed page"))?;
        rows += page.value.len() as u64;
        pages += 1;
        bytes += body.len() as u64;
        match page.next_link {
            Some(link) => {
                path = link
                    .strip_prefix(origin)
                    .with_context(|| format!("the next link {link} is not on {origin}"))?
                    .to_string();
            }
            None => break,
        }
    }
    let elapsed = started.elapsed();
    let server_cpu = cpu::spent(cpu_before, server.cpu_time());
    let reader_cpu = cpu::spent(reader_before, cpu::cpu_time("self"));
    Ok(Read {
        compressed,
        wire_bytes,
        reader_cpu,
        rows,
        pages,
        bytes,
        elapsed,
        slowest_page,
        server_cpu,
    })
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_string(), |bytes| format!("{:.0} MB", bytes as f64 / 1e6))
}

fn print_summary(scale: u64, filter: Option<&str>, results: &[Measured]) {
    println!(
        "\nFeed benchmark: GET WorkOrders following @odata.nextLink (default page size), one reader on loopback, \
         demo --scale {scale}"
    );
    if let Some(filter) = filter {
        println!("with $filter={filter}");
    }
    for measured in results {
        println!("\n{}:", measured.backend.name());
        println!(
            "  full sync    {} rows in {}: {:.0} rows/s (release build, before the server started)",
            measured.sync_rows,
            seconds(measured.sync_elapsed),
            measured.sync_rows as f64 / measured.sync_elapsed.as_secs_f64()
        );
        for (number, read) in measured.reads.iter().enumerate() {
            let wire = if read.compressed {
                format!(
                    " gzip: {:.1} MB on the wire ({:.1}x smaller),",
                    read.wire_bytes as f64 / 1e6,
                    read.bytes as f64 / read.wire_bytes.max(1) as f64
                )
            } else {
                String::from(" uncompressed,")
            };
            println!(
                "  feed read {}  {} rows in {} pages, {:.0} MB of JSON,{wire} in {}: {:.0} rows/s; slowest page {:.0} ms",
                number + 1,
                read.rows,
                read.pages,
                read.bytes as f64 / 1e6,
                seconds(read.elapsed),
                read.rows as f64 / read.elapsed.as_secs_f64(),
                read.slowest_page.as_secs_f64() * 1000.0
            );
            if let Some(cpu) = read.server_cpu {
                let not_counted = match measured.backend {
                    Backend::Sqlite => "",
                    Backend::Postgres => " (PostgreSQL's own processes not counted)",
                };
                println!(
                    "               server cpu {} for the read, {:.0} rows per CPU second{not_counted}",
                    seconds(cpu),
                    read.rows as f64 / cpu.as_secs_f64().max(1e-9)
                );
            }
            if let Some(cpu) = read.reader_cpu {
                println!(
                    "               reader cpu {} (HTTP and JSON parsing, same machine)",
                    seconds(cpu)
                );
            }
        }
        println!(
            "  server peak  {} resident (VmHWM) after the reads; {} before them",
            megabytes(measured.peak_after),
            megabytes(measured.peak_before)
        );
    }
}
