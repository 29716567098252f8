//! The one error type of this crate, and how each kind maps to an OData answer.

/// Why a request's query (or a model) was refused.
///
/// Every variant carries a complete English sentence that can go straight into the
/// `{"error":{"code","message"}}` body; [`Error::code`] gives the stable machine code and
/// [`Error::status_code`] the HTTP status the OData protocol asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is not valid OData syntax (answer `400 Bad Request`).
    #[error("{message}")]
    Malformed {
        /// What is wrong, naming the query option.
        message: String,
        /// Character position (0-based) in the decoded `$filter` text, when the error is in `$filter`.
        position: Option<usize>,
    },
    /// The request is valid OData but uses a feature this service does not implement
    /// (answer `501 Not Implemented`).
    #[error("{message}")]
    Unsupported {
        /// Which feature is missing, naming the query option.
        message: String,
        /// Character position (0-based) in the decoded `$filter` text, when the error is in `$filter`.
        position: Option<usize>,
    },
    /// A query names a property the entity type does not have (answer `400 Bad Request`).
    #[error("{option}: the entity type `{entity_type}` has no property `{property}`")]
    UnknownProperty {
        /// The query option that named it, such as `$filter`.
        option: String,
        /// The property name as the client wrote it.
        property: String,
        /// The entity type that was searched.
        entity_type: String,
    },
    /// A `$filter` is well formed but compares or combines values of incompatible types
    /// (answer `400 Bad Request`).
    #[error("{message}")]
    TypeMismatch {
        /// Which operands clash, with their EDM types.
        message: String,
    },
}

/// The kind of an [`Error`], for callers that branch on it without looking at the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// See [`Error::Malformed`].
    Malformed,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::UnknownProperty`].
    UnknownProperty,
    /// See [`Error::TypeMismatch`].
    TypeMismatch,
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Malformed { .. } => ErrorKind::Malformed,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::UnknownProperty { .. } => ErrorKind::UnknownProperty,
            Error::TypeMismatch { .. } => ErrorKind::TypeMismatch,
        }
    }

    /// The HTTP status the OData protocol prescribes: 501 for unsupported features, 400 otherwise.
    pub fn status_code(&self) -> u16 {
        match self.kind() {
            ErrorKind::Unsupported => 501,
            ErrorKind::Malformed | ErrorKind::UnknownProperty | ErrorKind::TypeMismatch => 400,
        }
    }

    /// A stable machine-readable code for the OData error body.
    pub fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Malformed => "malformed_query",
            ErrorKind::Unsupported => "not_implemented",
            ErrorKind::UnknownProperty => "unknown_property",
            ErrorKind::TypeMismatch => "type_mismatch",
        }
    }

    /// The position in the decoded `$filter` text, if the error was found there.
    pub fn position(&self) -> Option<usize> {
        match self {
            Error::Malformed { position, .. } | Error::Unsupported { position, .. } => *position,
            Error::UnknownProperty { .. } | Error::TypeMismatch { .. } => None,
        }
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Error {
        Error::Malformed {
            message: message.into(),
            position: None,
        }
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Error {
        Error::Unsupported {
            message: message.into(),
            position: None,
        }
    }

    /// Prefixes the message with the query option it was found in, such as `$filter`.
    pub(crate) fn in_option(self, option: &str) -> Error {
        match self {
            Error::Malformed { message, position } => Error::Malformed {
                message: format!("{option}: {message}"),
                position,
            },
            Error::Unsupported { message, position } => Error::Unsupported {
                message: format!("{option}: {message}"),
                position,
            },
            Error::TypeMismatch { message } => Error::TypeMismatch {
                message: format!("{option}: {message}"),
            },
            other @ Error::UnknownProperty { .. } => other,
        }
    }
}
