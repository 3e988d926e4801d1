//! The AWS SDK set-up the functions share: the SDK config and its HTTPS client,
//! built so that Init does only what a function needs before it asks for its
//! first event, and the first call little more than the call. Why each piece is
//! here, and what it saved, is told (with the numbers) in the README's
//! "Performance, measured".
//!
//! - [`sdk_config`]: region and credentials from the environment, where Lambda
//!   sets them, without building the default provider chains.
//! - [`https_client`]: the SDK's default HTTPS client, trusting Mozilla's root
//!   certificates compiled into the binary rather than reading the OS trust
//!   store; its connector is built on the first request.
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
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

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
/// settings from the environment) with one change of trust: Mozilla's root
/// certificates, compiled in, instead of the OS trust store, unless
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` names other roots (see [`Roots`]). Its
/// connector, and with it the root store, is built on the first request rather
/// than when a service client is built.
pub fn https_client() -> SharedHttpClient {
    TrustStoreOnFirstUse::new(
        Builder::new().build_with_connector_fn(|settings, components| {
            default_connector(settings, components, Roots::from_env())
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
    roots: Roots,
) -> Connector {
    let mut connector =
        ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()
    {
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
    /// Mozilla's, compiled into the binary (`webpki-root-certs`): nothing is
    /// read from disk, and every AWS endpoint's certificate chains to one.
    CompiledIn,
    /// What `SSL_CERT_FILE` and `SSL_CERT_DIR` name, read as the SDK's default
    /// client reads them: by OpenSSL's convention they replace the default
    /// roots (a private CA, or a TLS-inspecting proxy's with the public ones).
    Named,
}

impl Roots {
    /// [`Named`](Self::Named) when `SSL_CERT_FILE` or `SSL_CERT_DIR` is set
    /// and not empty, else [`CompiledIn`](Self::CompiledIn).
    pub fn from_env() -> Self {
        Self::from_variables(
            std::env::var_os("SSL_CERT_FILE").as_deref(),
            std::env::var_os("SSL_CERT_DIR").as_deref(),
        )
    }

    /// The choice for these values of `SSL_CERT_FILE` and `SSL_CERT_DIR`.
    pub fn from_variables(cert_file: Option<&OsStr>, cert_dir: Option<&OsStr>) -> Self {
        let named = |value: Option<&OsStr>| value.is_some_and(|value| !value.is_empty());
        if named(cert_file) || named(cert_dir) {
            Self::Named
        } else {
            Self::CompiledIn
        }
    }

    fn trust_store(self) -> TrustStore {
        match self {
            Self::CompiledIn => TrustStore::empty().with_pem_certificate(mozilla_roots_pem()),
            Self::Named => TrustStore::default(),
        }
    }
}

/// Mozilla's root certificates as one PEM bundle, the only form in which the
/// SDK's TLS settings take roots. Encoding them costs a fraction of what reading
/// and decoding the OS's files did.
fn mozilla_roots_pem() -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----\n";
    const END: &str = "\n-----END CERTIFICATE-----\n";
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
    let base64_bytes: usize = roots.iter().map(|der| der.len().div_ceil(3) * 4).sum();
    let mut pem = String::with_capacity(base64_bytes + roots.len() * (BEGIN.len() + END.len()));
    for der in roots {
        pem.push_str(BEGIN);
        STANDARD.encode_string(der, &mut pem);
        pem.push_str(END);
    }
    pem
}

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
    fn without_ssl_cert_variables_the_compiled_in_roots_are_trusted() {
        assert_eq!(Roots::from_variables(None, None), Roots::CompiledIn);
        let empty = OsStr::new("");
        assert_eq!(
            Roots::from_variables(Some(empty), Some(empty)),
            Roots::CompiledIn
        );
    }

    #[test]
    fn ssl_cert_file_or_dir_names_the_roots_instead() {
        let path = OsStr::new("/etc/pki/private-ca.pem");
        assert_eq!(Roots::from_variables(Some(path), None), Roots::Named);
        assert_eq!(Roots::from_variables(None, Some(path)), Roots::Named);
    }

    #[test]
    fn the_compiled_in_bundle_holds_every_mozilla_root() {
        let pem = mozilla_roots_pem();
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(roots > 100, "only {roots} roots");
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----\n").count(), roots);
        assert_eq!(pem.matches("\n-----END CERTIFICATE-----\n").count(), roots);
    }

    #[test]
    fn every_compiled_in_root_is_accepted_as_a_trust_anchor() {
        // The SDK panics while building the connector if a root does not parse.
        let _connector = default_connector(None, None, Roots::CompiledIn);
    }
}
