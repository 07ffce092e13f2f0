//! The shop's signed customer identity: the shop's backend computes
//! `hex(HMAC-SHA256(site.identity_secret, customer_id))` and the widget passes it along, so a
//! shopper cannot claim to be another customer.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why an identity was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("this site does not accept signed identities (no identity_secret configured)")]
    NotEnabled,
    #[error("customer_id was given without a signature")]
    Unsigned,
    #[error("signature is not hex")]
    Malformed,
    #[error("signature does not match customer_id")]
    Mismatch,
}

/// Computes the signature a shop's backend would send (used by tests and examples).
pub fn sign(secret: &str, customer_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(customer_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a signature in constant time.
pub fn verify(
    secret: &str,
    customer_id: &str,
    signature: Option<&str>,
) -> Result<(), IdentityError> {
    if secret.is_empty() {
        return Err(IdentityError::NotEnabled);
    }
    let sig = signature
        .filter(|s| !s.is_empty())
        .ok_or(IdentityError::Unsigned)?;
    let sig = hex::decode(sig).map_err(|_| IdentityError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(customer_id.as_bytes());
    mac.verify_slice(&sig).map_err(|_| IdentityError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_right_signature() {
        let sig = sign("k", "cust-1");
        assert_eq!(verify("k", "cust-1", Some(&sig)), Ok(()));
        assert_eq!(
            verify("k", "cust-2", Some(&sig)),
            Err(IdentityError::Mismatch)
        );
        assert_eq!(
            verify("other", "cust-1", Some(&sig)),
            Err(IdentityError::Mismatch)
        );
        assert_eq!(verify("k", "cust-1", None), Err(IdentityError::Unsigned));
        assert_eq!(
            verify("k", "cust-1", Some("zz")),
            Err(IdentityError::Malformed)
        );
        assert_eq!(
            verify("", "cust-1", Some(&sig)),
            Err(IdentityError::NotEnabled)
        );
    }
}
