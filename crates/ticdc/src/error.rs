//! Client errors: "the server answered with an error" is kept apart from transport failures.

use super::mask::mask_sensitive_in_uri;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a non-2xx status. `code` is TiCDC's `error_code` (may be empty).
    #[error("{method} {path}: HTTP {status} {}", api_text(code, message))]
    Api {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<std::time::Duration>,
    },
    /// The request never got an answer (connection refused, reset, timeout, TLS failure).
    #[error("cannot reach TiCDC at {url}: {reason}")]
    Transport { url: String, reason: String },
    /// The server answered 2xx but the body is not what the API promises.
    #[error("{method} {path}: unexpected response (HTTP {status}): {reason}")]
    Decode {
        method: String,
        path: String,
        status: u16,
        reason: String,
    },
    /// Bad client settings (URL, certificates).
    #[error("{0}")]
    Config(String),
}

impl ClientError {
    /// TiCDC `error_code` when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(codes::CHANGEFEED_NOT_EXISTS)
    }
    /// The request may or may not have been carried out: the connection failed, or the server
    /// answered 5xx. Only operations whose repetition is harmless may be re-sent after this.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }
    /// Worth retrying for an idempotent call: transport failure or a 5xx (server not ready,
    /// owner changing, an internal error), except the health check's definitive "unhealthy".
    pub fn is_retryable(&self) -> bool {
        match self {
            // A capture restarting refuses or resets connections: wait. A certificate that does
            // not verify will not verify next time either.
            ClientError::Transport { reason, .. } => {
                let r = reason.to_ascii_lowercase();
                // Nor does a server that speaks the other protocol (http:// against TLS, or
                // https:// against plain HTTP) start speaking this one.
                !(r.contains("certificate")
                    || r.contains("tls handshake")
                    || r.contains("invalidcertificate")
                    || r.contains("(use http://)")
                    || r.contains("(use https://)"))
            }
            // Some 500s are answers, not outages: "unhealthy" from the health check, and
            // "no such capture" from a processor probe (tiflow cdc/api/v2/processor.go
            // `getProcessor` answers ErrCaptureNotExist, HTTP 500, for a capture that runs no
            // processor); asking again changes neither.
            ClientError::Api { status, code, .. } => {
                *status >= 500
                    && code != codes::CLUSTER_UNHEALTHY
                    && code != codes::CAPTURE_NOT_EXIST
                    && !is_verdict(code)
            }
            _ => false,
        }
    }
    /// Before TiCDC has answered once, whether this says that nothing there is a TiCDC to wait
    /// for: the address refuses connections, DNS does not know the name, or what answered is
    /// not TiCDC (its errors carry an `error_code`). TLS failures are never retried anyway.
    pub fn is_not_ticdc_yet(&self) -> bool {
        match self {
            ClientError::Transport { reason, .. } => {
                let r = reason.to_ascii_lowercase();
                r.contains("connection refused")
                    || r.contains("dns error")
                    || r.contains("failed to lookup address")
            }
            ClientError::Api { code, .. } => code.is_empty(),
            _ => true,
        }
    }
    /// The same error, noting that it is the last of several attempts ("after N attempts in
    /// Xs"), so a report tells a refusal from an outage that outlasted `--retry-for`.
    pub fn with_note(mut self, note: &str) -> ClientError {
        match &mut self {
            ClientError::Api { message: text, .. }
            | ClientError::Transport { reason: text, .. }
            | ClientError::Decode { reason: text, .. } => {
                *text = format!("{text} ({note})");
            }
            ClientError::Config(_) => {}
        }
        self
    }
    /// What a wait for this error is about, for progress lines: an owner election (no owner,
    /// or a capture not ready yet after a restart), an unreachable server, or another 5xx.
    pub fn waiting_for(&self) -> String {
        match self {
            ClientError::Transport { url, .. } => format!("TiCDC at {url} unreachable"),
            ClientError::Api { code, message, .. }
                if code == codes::OWNER_NOT_FOUND
                    || code == codes::NOT_OWNER
                    || code == codes::SERVER_NOT_READY
                    || message.contains("no leader") =>
            {
                format!(
                    "owner election in progress ({})",
                    if code.is_empty() { "no leader" } else { code }
                )
            }
            ClientError::Api { status, code, .. } => format!(
                "TiCDC answered HTTP {status}{}",
                if code.is_empty() {
                    String::new()
                } else {
                    format!(" {code}")
                }
            ),
            other => other.brief(),
        }
    }
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ClientError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
    /// The server took the connection but sent no answer within the request timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Transport { reason, .. } if reason.starts_with("no answer within"))
    }

    /// The next step to try, when the error says what it is.
    pub fn hint(&self) -> Option<String> {
        match self {
            ClientError::Api { status: 401, code, .. } if code == codes::CREDENTIAL_NOT_FOUND => Some(
                "the server wants basic auth and got none: pass `--user` and set `CDCFORM_PASSWORD` \
                 (or `user` and `password_env` in cdcform.toml)"
                    .into(),
            ),
            ClientError::Api { status: 401, .. } => Some(
                "the server refused the user or password: check `--user`/`CDCFORM_USER` and \
                 `CDCFORM_PASSWORD` (or the variable `password_env` names)"
                    .into(),
            ),
            ClientError::Transport { url, reason } => Some(transport_hint(url, reason)),
            // TiCDC answers every route of its API, and its refusals carry an `error_code`.
            ClientError::Api {
                status: 404 | 405 | 501,
                code,
                ..
            } if code.is_empty() => Some(
                "this does not answer as TiCDC's OpenAPI v2 does: `--server` (or the cluster's \
                 `server`) takes a TiCDC server's address, such as http://ticdc-0:8300, without a path"
                    .into(),
            ),
            _ => None,
        }
    }

    /// The message alone, for where the code is shown beside it (an apply summary prints
    /// `[CODE]: message`; with `brief` the code would read twice).
    pub fn detail(&self) -> String {
        match self {
            ClientError::Api { code, message, .. } if !code.is_empty() => {
                scrub(without_code(code, message))
            }
            other => other.brief(),
        }
    }

    /// Short "code: message" for summaries.
    pub fn brief(&self) -> String {
        match self {
            ClientError::Api {
                code,
                message,
                status,
                ..
            } => {
                let code = if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    code.clone()
                };
                format!("{code}: {}", scrub(without_code(&code, message)))
            }
            other => scrub(&other.to_string()),
        }
    }
}

fn transport_hint(url: &str, reason: &str) -> String {
    let swap = |from: &str, to: &str| url.replacen(from, to, 1);
    if reason.contains("(use http://)") {
        format!("try `--server {}`", swap("https://", "http://"))
    } else if reason.contains("(use https://)") {
        format!("try `--server {}`", swap("http://", "https://"))
    } else if reason.contains("certificate") {
        "check `--ca` (or `ca` in cdcform.toml) and the host name in the server URL".into()
    } else if reason.contains("no answer within") {
        "the server accepted the connection but did not answer: raise `--timeout`, or check the server".into()
    } else {
        "check `--server`, `CDCFORM_SERVER` or the cluster's `server` in cdcform.toml; \
         to wait for a TiCDC that is starting, give it time with `--retry-for 2m`"
            .into()
    }
}

/// A 500 that is TiCDC's verdict on the request, not an outage. TiCDC answers every error
/// outside a short bad-request list with 500 (tiflow v8.5.0 `cdc/api/util.go` and pingcap/ticdc
/// v8.5.7 `pkg/api/util.go`, `httpBadRequestError`), so a sink it cannot reach (tiflow
/// `ErrKafkaNewProducer`, ticdc `ErrNewKafkaSink`), a replica config its `ValidateAndAdjust`
/// refuses (ticdc `ErrInvalidReplicaConfig`) or an encoder setting it cannot use arrive as 500
/// like an owner election does. Sent again, they are refused again: they fail at once, with the
/// server's words, instead of being retried for `--retry-for`. Families by name, from tiflow
/// `pkg/errors/cdc_errors.go` and pingcap/ticdc `pkg/errors/error.go`: the sink, codec and
/// filter errors and the config refusals. Everything else (owner elections, etcd/PD trouble, internal errors) is
/// still ridden through.
pub fn is_verdict(code: &str) -> bool {
    const FAMILIES: &[&str] = &[
        "ErrKafka",
        "ErrNewKafka",
        "ErrPulsar",
        "ErrNewPulsar",
        "ErrMySQL",
        "ErrSink",
        "ErrStorage",
        "ErrCodec",
        "ErrEncode",
        "ErrFilter",
        "ErrInvalidReplicaConfig",
        "ErrIncompatibleSinkConfig",
    ];
    let name = code.strip_prefix("CDC:").unwrap_or(code);
    FAMILIES.iter().any(|f| name.starts_with(f))
}

/// TiCDC messages start with `[CODE]` (`[CDC:ErrX]message: cause`); shown after the code
/// itself, that prefix would print the code twice.
fn without_code<'a>(code: &str, message: &'a str) -> &'a str {
    if code.is_empty() {
        return message;
    }
    message
        .strip_prefix('[')
        .and_then(|m| m.strip_prefix(code))
        .and_then(|m| m.strip_prefix(']'))
        .unwrap_or(message)
}

/// `CODE: message` with the message's own `[CODE]` prefix dropped; just the message when the
/// server sent no code.
fn api_text(code: &str, message: &str) -> String {
    if code.is_empty() {
        message.to_string()
    } else {
        format!("{code}: {}", without_code(code, message))
    }
}

/// Mask anything that looks like a URI with credentials inside free text (server messages can
/// quote sink URIs). Words that parse as URIs with a scheme are passed through TiCDC's broad
/// masker.
pub fn scrub(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    text.split(' ')
        .map(|w| {
            if w.contains("://") {
                let trimmed =
                    w.trim_matches(|c| c == '\'' || c == '"' || c == ',' || c == '(' || c == ')');
                if trimmed.is_empty() {
                    return w.to_string();
                }
                w.replace(trimmed, &mask_sensitive_in_uri(trimmed))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// TiCDC error codes cdcform reacts to (upstream `pkg/errors/cdc_errors.go`).
pub mod codes {
    pub const CHANGEFEED_NOT_EXISTS: &str = "CDC:ErrChangeFeedNotExists";
    pub const CHANGEFEED_ALREADY_EXISTS: &str = "CDC:ErrChangeFeedAlreadyExists";
    pub const API_INVALID_PARAM: &str = "CDC:ErrAPIInvalidParam";
    pub const SINK_URI_INVALID: &str = "CDC:ErrSinkURIInvalid";
    pub const UPDATE_REFUSED: &str = "CDC:ErrChangefeedUpdateRefused";
    pub const START_TS_BEFORE_GC: &str = "CDC:ErrStartTsBeforeGC";
    pub const TARGET_TS_BEFORE_START_TS: &str = "CDC:ErrTargetTsBeforeStartTs";
    pub const MYSQL_CONNECTION_ERROR: &str = "CDC:ErrMySQLConnectionError";
    pub const SINK_UNKNOWN_PROTOCOL: &str = "CDC:ErrSinkUnknownProtocol";
    pub const KAFKA_NEW_PRODUCER: &str = "CDC:ErrKafkaNewProducer";
    pub const INVALID_REPLICA_CONFIG: &str = "CDC:ErrInvalidReplicaConfig";
    pub const SERVER_NOT_READY: &str = "CDC:ErrServerIsNotReady";
    /// No owner elected (tiflow cdc/capture/capture.go `GetOwnerCaptureInfo`).
    pub const OWNER_NOT_FOUND: &str = "CDC:ErrOwnerNotFound";
    pub const NOT_OWNER: &str = "CDC:ErrNotOwner";
    pub const CREDENTIAL_NOT_FOUND: &str = "CDC:ErrCredentialNotFound";
    pub const UNAUTHORIZED: &str = "CDC:ErrUnauthorized";
    pub const CLUSTER_UNHEALTHY: &str = "CDC:ErrClusterIsUnhealthy";
    pub const REACH_MAX_TRY: &str = "CDC:ErrReachMaxTry";
    pub const CAPTURE_NOT_EXIST: &str = "CDC:ErrCaptureNotExist";
    pub const FILTER_RULE_INVALID: &str = "CDC:ErrFilterRuleInvalid";
    /// tiflow's message for a PUT that changes nothing (tiflow `cdc/api/v2/changefeed.go` `updateChangefeed`).
    pub const NOOP_UPDATE_MESSAGE: &str = "changefeed config is the same with the old one";
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_500_verdict_is_not_retried_an_outage_is() {
        let api = |code: &str| ClientError::Api {
            status: 500,
            code: code.into(),
            message: String::new(),
            method: "POST".into(),
            path: "/api/v2/changefeeds".into(),
            retry_after: None,
        };
        for verdict in [
            "CDC:ErrKafkaNewProducer",
            "CDC:ErrNewKafkaSink",
            "CDC:ErrInvalidReplicaConfig",
            "CDC:ErrSinkInvalidConfig",
            "CDC:ErrPulsarNewProducer",
        ] {
            assert!(!api(verdict).is_retryable(), "{verdict}");
        }
        for outage in [
            "CDC:ErrOwnerNotFound",
            "CDC:ErrInternalServerError",
            "CDC:ErrServerIsNotReady",
            "CDC:ErrPDEtcdAPIError",
            "",
        ] {
            assert!(api(outage).is_retryable(), "{outage}");
        }
    }

    use super::*;

    fn api(code: &str, message: &str) -> ClientError {
        ClientError::Api {
            method: "POST".into(),
            path: "/api/v2/changefeeds".into(),
            status: 400,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// `[CDC:ErrX]message: cause` from TiCDC (and the simulator) prints the code once.
    #[test]
    fn code_is_shown_once() {
        let e = api(
            "CDC:ErrSinkURIInvalid",
            "[CDC:ErrSinkURIInvalid]sink uri invalid 'kafka://h:9092/t': [CDC:ErrKafkaNewProducer]new kafka producer",
        );
        let shown = e.to_string();
        assert_eq!(shown.matches("CDC:ErrSinkURIInvalid").count(), 1, "{shown}");
        assert!(shown.contains("[CDC:ErrKafkaNewProducer]"), "{shown}");
        assert_eq!(e.brief().matches("CDC:ErrSinkURIInvalid").count(), 1);
        // A message whose prefix is another code, or none, is kept whole.
        let e = api("CDC:ErrInvalidReplicaConfig", "[CDC:ErrSinkURIInvalid]x");
        assert!(e
            .to_string()
            .ends_with("CDC:ErrInvalidReplicaConfig: [CDC:ErrSinkURIInvalid]x"));
        assert!(api("", "upstream 7 not found")
            .to_string()
            .ends_with("HTTP 400 upstream 7 not found"));
    }
}
