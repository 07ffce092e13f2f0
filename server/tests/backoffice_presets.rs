//! The shipped back-office presets (server/presets/) against mock platforms speaking each platform's documented JSON.

#[path = "presets/magento2.rs"]
mod magento2;
#[path = "presets/mock.rs"]
mod mock;
#[path = "presets/woocommerce.rs"]
mod woocommerce;
