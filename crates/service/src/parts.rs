//! What a service hands the binary: its gRPC service, its HTTP routes and its store. The binary
//! wires every service the same way, in a loop.

use std::convert::Infallible;

use souk_store::Store;
use tonic::server::NamedService;
use tonic::service::Routes;

/// One service, ready to be served.
pub struct ServiceParts {
    /// Fully qualified gRPC service name (`souk.metering.v1.MeteringService`), for health.
    pub name: &'static str,
    /// Adds the gRPC service to a process's routes.
    add_to: Box<dyn FnOnce(Routes) -> Routes + Send>,
    /// Routes on the HTTP port (fulfilment page, webhooks), if the service has any.
    pub http: Option<axum::Router>,
    /// The service's own store: its outbox is relayed, and it is closed at shutdown.
    pub store: Option<Store>,
}

impl std::fmt::Debug for ServiceParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceParts")
            .field("name", &self.name)
            .field("http", &self.http.is_some())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ServiceParts {
    /// The parts of a service served by the tonic server `service`.
    pub fn new<S>(service: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            name: S::NAME,
            add_to: Box::new(move |routes: Routes| routes.add_service(service)),
            http: None,
            store: None,
        }
    }

    /// With the service's own store.
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// With routes on the HTTP port.
    pub fn with_http(mut self, router: axum::Router) -> Self {
        self.http = Some(router);
        self
    }
}

/// Several services combined for one process.
pub struct Served {
    /// Every service's gRPC routes.
    pub routes: Routes,
    /// Their fully qualified names, for health.
    pub names: Vec<&'static str>,
    /// Every service's HTTP routes.
    pub http: axum::Router,
}

/// Combines `parts` into what one process serves.
pub fn combine(parts: impl IntoIterator<Item = ServiceParts>) -> Served {
    let mut served = Served {
        routes: Routes::default(),
        names: Vec::new(),
        http: axum::Router::new(),
    };
    for part in parts {
        served.routes = (part.add_to)(served.routes);
        served.names.push(part.name);
        if let Some(http) = part.http {
            served.http = served.http.merge(http);
        }
    }
    served
}
