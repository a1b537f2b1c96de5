//! Generated tonic/prost code for the Souk gRPC contracts (`proto/souk/...`) and the encoded
//! descriptor set for gRPC reflection.
//!
//! Nothing but generated code lives here; conversions to domain types belong to the services.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// The encoded `FileDescriptorSet` of every Souk proto file and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/souk_descriptor.bin"));

pub mod souk {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("souk.common.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("souk.events.v1");
        }
    }
    pub mod integration {
        pub mod v1 {
            tonic::include_proto!("souk.integration.v1");
        }
    }
    pub mod entitlement {
        pub mod v1 {
            tonic::include_proto!("souk.entitlement.v1");
        }
    }
    pub mod metering {
        pub mod v1 {
            tonic::include_proto!("souk.metering.v1");
        }
    }
    pub mod offer {
        pub mod v1 {
            tonic::include_proto!("souk.offer.v1");
        }
    }
    pub mod reporting {
        pub mod v1 {
            tonic::include_proto!("souk.reporting.v1");
        }
    }
}

pub use souk::common::v1 as common;
pub use souk::entitlement::v1 as entitlement;
pub use souk::events::v1 as events;
pub use souk::integration::v1 as integration;
pub use souk::metering::v1 as metering;
pub use souk::offer::v1 as offer;
pub use souk::reporting::v1 as reporting;
