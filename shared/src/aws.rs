//! The AWS SDK set-up the functions share: the SDK config and its HTTP client,
//! built so that Init does only the work a function needs before it asks for
//! its first event. `make bench` showed two things the SDK's defaults do at
//! Init that Lambda does not need done there:
//!
//! - **The OS trust store.** The SDK's default HTTPS client reads and parses
//!   every root certificate of the OS (`/etc/ssl/certs`, `/etc/pki/tls/certs`:
//!   hundreds of PEM files) when a service client is *built*, so that the first
//!   request does not pay for it; it was most of our Init time. [`https_client`]
//!   is that same client (same TLS stack, certificates and settings) except that
//!   it reads the trust store when the first connection is made. The first call
//!   pays for it instead of Init, and an invocation that makes no call (an
//!   invalid message, a confirmation page) never does. Reading it on a background
//!   thread during Init was tried and was slower: on two cores (and on Lambda's
//!   fractions of one) it competes with Init for the CPU.
//! - **The provider chains.** Both default chains (region, credentials) look at
//!   the environment first, and Lambda always sets the region and the function
//!   role's credentials there; building the rest of each chain (IMDS, ECS, web
//!   identity with its STS client, SSO, profiles) is work whose result is never
//!   used. [`sdk_config`] takes them from the environment when they are there,
//!   and otherwise loads the chains as usual.
//! - **The endpoint rules' partition table.** Building a service client parses
//!   the SDK's table of partitions (every region, with a regex per partition),
//!   about 0.2 ms per service crate. [`ClientOnFirstUse`] builds the client on
//!   its first use instead; an invocation that makes no call never builds it.
//!
//! ```no_run
//! # async fn example() {
//! let sdk_config = sfn_callback::aws::sdk_config().await;
//! let sfn = aws_sdk_sfn::Client::new(&sdk_config);
//! # }
//! ```

use std::sync::{Arc, OnceLock};

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::region::ProvideRegion;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sfn::config::ProvideCredentials;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
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

/// The SDK's default HTTPS client (hyper 1.x, rustls with aws-lc, the OS trust
/// store, proxy settings from the environment), which reads the trust store on
/// the first connection rather than when a service client is built.
pub fn https_client() -> SharedHttpClient {
    TrustStoreOnFirstUse::new(
        Builder::new().build_with_connector_fn(|settings, components| {
            default_connector(settings, components)
        }),
    )
    .into_shared()
}

/// The connector `aws-smithy-runtime` builds for its default HTTPS client with
/// the latest behavior version (`client::http::default_https_client`), with the
/// same public builders. Building one reads the OS trust store (once per process)
/// and parses it into the connector's root store.
fn default_connector(
    settings: Option<&HttpConnectorSettings>,
    components: Option<&RuntimeComponents>,
) -> Connector {
    let mut connector =
        ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    connector.set_connector_settings(settings.cloned());
    if let Some(components) = components {
        connector.set_sleep_impl(components.sleep_impl());
    }
    connector.set_proxy_config(Some(ProxyConfig::from_env()));
    connector.build()
}

/// An HTTP client that passes everything to `inner` except the hook the SDK
/// runs when a service client is built (`validate_base_client_config`), where
/// the default client builds a throwaway connector just to read the OS trust
/// store early. The connector is then built, and cached, on the first request.
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
}
