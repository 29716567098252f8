//! OData v4 building blocks for Koppel's Power BI feed, free of IO, async, SQL and HTTP.
//!
//! - [`query`] parses a request's query string into typed [`QueryOptions`].
//! - [`filter`] parses `$filter` into an [`Expr`] and prints it back as OData.
//! - [`model`] describes the entity types and sets a feed publishes.
//! - [`check`] checks parsed options against an entity type (known properties, sound types).
//! - [`csdl`] writes a model as the `$metadata` CSDL XML document.
//!
//! Every refusal is an [`Error`] whose [`Error::status_code`] is what the OData protocol asks the
//! server to answer: 400 for malformed or ill-typed queries, 501 for valid OData Koppel does not
//! implement.
//!
//! ```
//! use koppel_odata::{parse_query, Direction, Expr};
//!
//! let options = parse_query("$filter=ModifiedAt%20ge%202021-02-03T00:00:00%2B01:00&%24top=1000&$orderby=Id desc")?;
//! assert_eq!(options.top, Some(1000));
//! assert_eq!(options.orderby, vec![(Expr::property("Id"), Direction::Desc)]);
//! assert_eq!(options.filter.unwrap().to_string(), "ModifiedAt ge 2021-02-02T23:00:00Z");
//! # Ok::<(), koppel_odata::Error>(())
//! ```

#![warn(missing_docs)]

pub mod check;
pub mod csdl;
mod error;
pub mod filter;
pub mod model;
pub mod query;

pub use check::{check_filter, check_query};
pub use error::{Error, ErrorKind};
pub use filter::{ArithmeticOp, CompareOp, Decimal, Expr, Function, Literal};
pub use model::{EdmType, EntitySet, EntityType, Model, ModelError, Property};
pub use query::{Direction, QueryOptions, parse_query};
