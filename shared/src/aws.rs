//! The AWS SDK set-up the functions share: the SDK config and its HTTPS client,
//! built so that Init does only what a function needs before it asks for its
//! first event, and the first call little more than the call. Why each piece is
//! here, and what it saved, is told (with the numbers) in the README's
//! "Performance, measured".
//!
//! - [`sdk_config`]: region and credentials from the environment, where Lambda
//!   sets them, without building the default provider chains.
//! - [`https_client`]: the SDK's default HTTPS client, built on the first
//!   request; in Lambda it trusts Mozilla's root certificates compiled into the
//!   binary rather than reading the OS trust store ([`Roots`]).
//! - [`ClientOnFirstUse`]: a service client built on its first use.
//!
//! ```no_run
//! # async fn example() {
//! let sdk_config = sfn_callback::aws::sdk_config().await;
//! let sfn = aws_sdk_sfn::Client::new(&sdk_config);
//! # }
//! ```

use std::ffi::OsStr;
use std::sync::{Arc, OnceLock};

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::region::ProvideRegion;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sfn::config::ProvideCredentials;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector, ConnectorBuilder};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;

/// The SDK config from the standard AWS environment (region, credentials,
/// `AWS_ENDPOINT_URL`, profiles), with [`https_client`] as its HTTP client, so
/// that every service client built from it shares one connection pool.
///
/// Region and credentials come from the environment variables when they are
/// set, which is what the default chains would answer, without building the
/// chains' other providers; when they are not, the default chains are used.
pub async fn sdk_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = EnvironmentVariableRegionProvider::new().region().await {
        loader = loader.region(region);
    }
    let environment = EnvironmentVariableCredentialsProvider::new();
    if environment.provide_credentials().await.is_ok() {
        loader = loader.credentials_provider(environment);
    }
    loader.load().await
}

/// A service client built on its first use, then shared by every clone.
pub struct ClientOnFirstUse<C> {
    build: Arc<dyn Fn() -> C + Send + Sync>,
    client: Arc<OnceLock<C>>,
}

impl<C> ClientOnFirstUse<C> {
    /// `build` runs once, on the first [`get`](Self::get).
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self {
            build: Arc::new(build),
            client: Arc::new(OnceLock::new()),
        }
    }

    /// Wraps a client that is already built.
    pub fn ready(client: C) -> Self
    where
        C: Clone + Send + Sync + 'static,
    {
        let spare = client.clone();
        Self {
            build: Arc::new(move || spare.clone()),
            client: Arc::new(OnceLock::from(client)),
        }
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)())
    }
}

impl<C> Clone for ClientOnFirstUse<C> {
    fn clone(&self) -> Self {
        Self {
            build: Arc::clone(&self.build),
            client: Arc::clone(&self.client),
        }
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for ClientOnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.client.get() {
            Some(client) => f.debug_tuple("ClientOnFirstUse").field(client).finish(),
            None => f.write_str("ClientOnFirstUse(not built yet)"),
        }
    }
}

/// The SDK's default HTTPS client (hyper 1.x, rustls with aws-lc, proxy
/// settings from the environment), trusting the [`Roots`] chosen from the
/// environment: in Lambda, Mozilla's root certificates compiled in, rather than
/// the OS trust store read from disk. Its connector, and with it the root
/// store, is built on the first request, not when a service client is built.
pub fn https_client() -> SharedHttpClient {
    TrustStoreOnFirstUse::new(
        Builder::new().build_with_connector_fn(|settings, components| {
            default_connector(settings, components, Roots::from_env().trust_store())
        }),
    )
    .into_shared()
}

/// The connector `aws-smithy-runtime` builds for its default HTTPS client with
/// the latest behavior version (`client::http::default_https_client`), with the
/// same public builders, trusting `roots`.
fn default_connector(
    settings: Option<&HttpConnectorSettings>,
    components: Option<&RuntimeComponents>,
    roots: TrustStore,
) -> Connector {
    let mut connector =
        ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(roots).build() {
        Ok(context) => {
            connector.set_tls_context(context);
        }
        // It cannot fail today; if it ever does, the SDK's default roots are
        // still a verifying trust store, only slower to load.
        Err(error) => tracing::warn!(%error, "TLS settings refused; using the SDK's default roots"),
    }
    connector.set_connector_settings(settings.cloned());
    if let Some(components) = components {
        connector.set_sleep_impl(components.sleep_impl());
    }
    connector.set_proxy_config(Some(ProxyConfig::from_env()));
    connector.build()
}

/// The root certificates the HTTPS client trusts to verify a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    /// Mozilla's, compiled into the binary (`webpki-root-certs`): nothing to
    /// read from disk. Amazon Trust Services' roots, to which AWS's endpoints
    /// chain, are among them.
    CompiledIn,
    /// The SDK's default: the OS trust store, or the file and directory that
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR` name instead (OpenSSL's convention).
    System,
}

impl Roots {
    /// [`Roots::choose`] from `AWS_LAMBDA_RUNTIME_API`, `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`.
    pub fn from_env() -> Self {
        Self::choose(
            std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some(),
            std::env::var_os("SSL_CERT_FILE").as_deref(),
            std::env::var_os("SSL_CERT_DIR").as_deref(),
        )
    }

    /// [`CompiledIn`](Self::CompiledIn) in Lambda, where the first call of
    /// every new instance would otherwise read the OS trust store; the
    /// [`System`](Self::System) roots when `SSL_CERT_FILE` or `SSL_CERT_DIR`
    /// names any (a private CA, a TLS-inspecting proxy's), and outside Lambda
    /// (the CLI, an activity worker), where one read per process costs nothing
    /// worth keeping a machine's own CAs from it.
    pub fn choose(in_lambda: bool, cert_file: Option<&OsStr>, cert_dir: Option<&OsStr>) -> Self {
        let named = |value: Option<&OsStr>| value.is_some_and(|value| !value.is_empty());
        if in_lambda && !named(cert_file) && !named(cert_dir) {
            Self::CompiledIn
        } else {
            Self::System
        }
    }

    fn trust_store(self) -> TrustStore {
        match self {
            Self::CompiledIn => TrustStore::empty().with_pem_certificate(MOZILLA_ROOTS_PEM),
            Self::System => TrustStore::default(),
        }
    }
}

/// Mozilla's root certificates (`webpki-root-certs`) as one PEM bundle, the
/// only form in which the SDK's TLS settings take roots; `build.rs` writes it.
const MOZILLA_ROOTS_PEM: &str = include_str!(concat!(env!("OUT_DIR"), "/mozilla-roots.pem"));

/// An HTTP client that passes everything to `inner` except the hook the SDK
/// runs when a service client is built (`validate_base_client_config`), where
/// the default client builds a throwaway connector just to load its root
/// certificates early. The connector is then built, and cached, on the first
/// request.
#[derive(Debug)]
pub struct TrustStoreOnFirstUse {
    inner: SharedHttpClient,
}

impl TrustStoreOnFirstUse {
    /// Wraps `inner`, whose connector is then built on the first request.
    pub fn new(inner: SharedHttpClient) -> Self {
        Self { inner }
    }
}

impl HttpClient for TrustStoreOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    // `validate_base_client_config` keeps the trait's default (nothing to check):
    // not passing it on to `inner` is the point of this type.

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_http_client::test_util::infallible_client_fn;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::*;

    /// Counts the hooks the SDK calls, and answers every request `200 {}`.
    #[derive(Debug, Default)]
    struct Counting {
        validated: AtomicUsize,
        connectors: AtomicUsize,
    }

    #[derive(Debug, Clone, Default)]
    struct CountingClient(Arc<Counting>);

    impl HttpClient for CountingClient {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            self.0.connectors.fetch_add(1, Ordering::SeqCst);
            infallible_client_fn(|_request| {
                http::Response::builder()
                    .status(200)
                    .body(aws_smithy_types::body::SdkBody::from("{}"))
                    .unwrap()
            })
            .http_connector(settings, components)
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.validated.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn sfn_client(http_client: SharedHttpClient) -> aws_sdk_sfn::Client {
        let config = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .http_client(http_client)
            .build();
        aws_sdk_sfn::Client::from_conf(config)
    }

    #[test]
    fn the_sdk_prepares_a_plain_client_when_a_service_client_is_built() {
        let counting = CountingClient::default();
        let _client = sfn_client(counting.clone().into_shared());
        assert_eq!(counting.0.validated.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn building_a_service_client_prepares_nothing_until_the_first_request() {
        let counting = CountingClient::default();
        let client =
            sfn_client(TrustStoreOnFirstUse::new(counting.clone().into_shared()).into_shared());
        assert_eq!(counting.0.validated.load(Ordering::SeqCst), 0);
        assert_eq!(counting.0.connectors.load(Ordering::SeqCst), 0);

        client
            .send_task_heartbeat()
            .task_token("token")
            .send()
            .await
            .unwrap();
        assert_eq!(counting.0.connectors.load(Ordering::SeqCst), 1);
        assert_eq!(counting.0.validated.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_callback_client_builds_its_sdk_client_once_on_the_first_call() {
        use crate::client::{CallbackClient, Deadline, RetrySettings};
        use crate::completion::Completion;
        use crate::token::TaskToken;

        let counting = CountingClient::default();
        let sdk_config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::SharedCredentialsProvider::new(
                aws_sdk_sfn::config::Credentials::new("testing", "testing", None, None, "test"),
            ))
            .http_client(counting.clone())
            .build();
        let client = CallbackClient::from_sdk_config(&sdk_config, RetrySettings::default());
        let clone = client.clone();
        assert_eq!(
            counting.0.validated.load(Ordering::SeqCst),
            0,
            "built too early"
        );

        let token = TaskToken::new("token").unwrap();
        for client in [&client, &clone, &client] {
            let outcome = client
                .complete(&token, Completion::Heartbeat, Deadline::NONE)
                .await;
            assert!(outcome.is_ok(), "{outcome:?}");
        }
        assert_eq!(
            counting.0.validated.load(Ordering::SeqCst),
            1,
            "clones share one"
        );
    }

    #[test]
    fn the_default_https_client_needs_no_runtime_to_build() {
        let _client = sfn_client(https_client());
    }

    #[test]
    fn in_lambda_the_compiled_in_roots_are_trusted() {
        assert_eq!(Roots::choose(true, None, None), Roots::CompiledIn);
        let empty = Some(OsStr::new(""));
        assert_eq!(Roots::choose(true, empty, empty), Roots::CompiledIn);
    }

    #[test]
    fn ssl_cert_file_or_dir_names_the_roots_instead() {
        let path = Some(OsStr::new("/etc/pki/private-ca.pem"));
        assert_eq!(Roots::choose(true, path, None), Roots::System);
        assert_eq!(Roots::choose(true, None, path), Roots::System);
    }

    #[test]
    fn outside_lambda_the_os_trust_store_is_used() {
        assert_eq!(Roots::choose(false, None, None), Roots::System);
    }

    #[test]
    fn the_compiled_in_bundle_holds_every_mozilla_root() {
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        assert!(roots.len() > 100, "only {} roots", roots.len());
        let encoded: String = MOZILLA_ROOTS_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let expected: String = roots.iter().map(|der| STANDARD.encode(der)).collect();
        assert_eq!(encoded, expected);
        assert_eq!(
            MOZILLA_ROOTS_PEM
                .matches("-----BEGIN CERTIFICATE-----\n")
                .count(),
            roots.len()
        );
    }

    #[test]
    fn every_compiled_in_root_is_accepted_as_a_trust_anchor() {
        // The SDK panics while building the connector if a root does not parse.
        let _connector = default_connector(None, None, Roots::CompiledIn.trust_store());
    }

    /// A loopback HTTPS server with a self-signed certificate for 127.0.0.1
    /// that answers every request `200 {}`, one connection at a time.
    struct SelfSignedServer {
        address: std::net::SocketAddr,
        certificate: Vec<u8>,
        answered: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl SelfSignedServer {
        async fn start() -> Self {
            use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

            let rcgen::CertifiedKey { cert, signing_key } =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der())),
                )
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let answered = Arc::new(AtomicUsize::new(0));
            let tally = Arc::clone(&answered);
            let task = tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    // A refused handshake ends here, on the server's side too.
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        answer_one_request(&mut tls).await;
                        tally.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
            Self {
                address,
                certificate: cert.der().to_vec(),
                answered,
                task,
            }
        }

        fn endpoint(&self) -> String {
            format!("https://{}", self.address)
        }

        /// Its certificate as the only root of a trust store.
        fn trusted_alone(&self) -> TrustStore {
            let base64 = STANDARD.encode(&self.certificate);
            TrustStore::empty().with_pem_certificate(format!(
                "-----BEGIN CERTIFICATE-----\n{base64}\n-----END CERTIFICATE-----\n"
            ))
        }
    }

    impl Drop for SelfSignedServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Reads one HTTP/1.1 request (headers, then `content-length` bytes) and
    /// answers `200 {}`.
    async fn answer_one_request(stream: &mut (impl AsyncRead + AsyncWrite + Unpin)) {
        let mut request = Vec::new();
        let mut buffer = [0_u8; 4096];
        loop {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the client closed before a whole request");
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                if request.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}";
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
    }

    fn sfn_client_at(endpoint: &str, roots: TrustStore) -> aws_sdk_sfn::Client {
        let http_client = Builder::new().build_with_connector_fn(move |settings, components| {
            default_connector(settings, components, roots.clone())
        });
        let config = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
            .endpoint_url(endpoint)
            .http_client(http_client)
            .build();
        aws_sdk_sfn::Client::from_conf(config)
    }

    #[tokio::test]
    async fn the_https_client_completes_a_call_to_a_server_whose_root_it_trusts() {
        let server = SelfSignedServer::start().await;
        let client = sfn_client_at(&server.endpoint(), server.trusted_alone());

        let sent = client
            .send_task_heartbeat()
            .task_token("token")
            .send()
            .await;

        assert!(sent.is_ok(), "{sent:?}");
        assert_eq!(server.answered.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_compiled_in_roots_refuse_a_server_certificate_they_did_not_issue() {
        let server = SelfSignedServer::start().await;
        let client = sfn_client_at(&server.endpoint(), Roots::CompiledIn.trust_store());

        let sent = client
            .send_task_heartbeat()
            .task_token("token")
            .send()
            .await;

        let error = format!("{:?}", sent.unwrap_err());
        assert!(error.contains("UnknownIssuer"), "{error}");
        assert_eq!(server.answered.load(Ordering::SeqCst), 0);
    }
}
