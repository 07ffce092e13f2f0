//! Running Kefu as an operator does: systemd's notifications, backups of the embedded
//! database, and `kefu doctor`'s checks of an installation.

pub mod backup;
pub mod doctor;
pub mod systemd;
