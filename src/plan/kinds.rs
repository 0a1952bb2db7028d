//! The registry of kinds: the one place a new kind is added. Each front end
//! (the command line's `diff`/`apply -f`, the controller of `run`) visits
//! every kind through [`for_each_kind`] and runs its generic code for it.

use super::kind::Kind;
use super::license_entitlement::LicenseEntitlementKind;
use super::mediant_device::MediantDeviceKind;
use super::tls_context::TlsContextKind;

/// Something done once per kind (e.g. "start its controller").
pub trait KindVisitor {
    /// What visiting one kind gives.
    type Output;
    /// Visits kind `K`.
    fn visit<K: Kind>(&mut self) -> Self::Output;
}

/// Visits every registered kind, in order: MediantDevice first (the other
/// kinds configure a MediantDevice).
pub fn for_each_kind<V: KindVisitor>(visitor: &mut V) -> Vec<V::Output> {
    vec![
        visitor.visit::<MediantDeviceKind>(),
        visitor.visit::<LicenseEntitlementKind>(),
        visitor.visit::<TlsContextKind>(),
    ]
}
