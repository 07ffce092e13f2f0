//! The retailer's data as Kefu shows it to agents. Field names follow the generic
//! back-office format (`docs/backoffice-format.md`), so that format maps onto these types
//! without configuration; optional fields default when a source leaves them out.
//!
//! The types are defined in `kefu-api`, shared with the desk that decodes them; they are
//! re-exported here so the server names them where it always did.

pub use kefu_api::{
    Address, Customer, LineItem, Money, Note, Order, Refund, Return, ReturnItem, Shipment,
};
