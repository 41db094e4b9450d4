//! Virtual MFA devices: the [`Kind`] of `mfa/{acct}/{name}` records, their assignment to a user
//! (or the root) with the owner index, and the single-use check of their codes.
//!
//! Next to each assigned device the store keeps its [`DeviceState`] (`mfas/…`: last accepted
//! step, drift, failures). A code is checked by the pure [`DeviceState::attempt`] and the new
//! state is committed with `Check::Equals` on the state read (`Check::Absent` if none), so two
//! requests with the same fresh code cannot both succeed: the second commit conflicts, re-reads
//! the state, and finds the step used. Seeds are sealed with the at-rest key, bound to the ARN.

use super::kind::{Kind, NameRules, Tagged};
use super::{Dependants, Error, Iam, Limit, decode, keys, to_json};
use crate::iam::model::{MfaAssignment, MfaDevice, Tag};
use crate::iam::names::entity_arn;
use crate::mfa::guard::{DeviceState, Outcome, Refusal};
use crate::mfa::totp::{Code, Seed};
use crate::store::{Batch, Check};

/// Quota: MFA devices per user, and for the root.
pub const MAX_MFA_DEVICES_PER_USER: usize = 8;

/// How often a code check is retried when the device's state changed under it.
const USE_ATTEMPTS: usize = 8;

impl Kind for MfaDevice {
    const WORD: &'static str = "mfa";
    const ELEMENT: &'static str = "VirtualMFADevice";
    const PREFIX: &'static str = keys::MFA_DEVICE;
    const NAME: NameRules = NameRules {
        param: "VirtualMFADeviceName",
        create_max: 226,
        max: 226,
    };

    fn account(&self) -> &str {
        &self.account
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        name.clone_into(&mut self.name);
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn set_path(&mut self, path: &str) {
        path.clone_into(&mut self.path);
    }
    fn set_arn(&mut self, arn: String) {
        self.arn = arn;
    }
}

impl Tagged for MfaDevice {
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

/// The answer to a code presented for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaUse {
    /// Accepted; the step is now used.
    Accepted {
        /// The step the code belonged to.
        step: u64,
    },
    /// No device of that serial is assigned to that owner (or it does not exist).
    NotAssigned,
    /// The code was refused (wrong, reused, throttled); a wrong code counts towards throttling.
    Refused(Refusal),
}

/// What a device's sealed seed is bound to (its ARN), so it cannot be moved to another record.
fn seal_owner(arn: &str) -> String {
    format!("mfa:{arn}")
}

impl Iam {
    /// Creates a virtual device with its seed sealed at rest; [`Error::AlreadyExists`] when the
    /// name is taken in the account.
    pub async fn create_mfa_device(
        &self,
        mut d: MfaDevice,
        seed: &Seed,
    ) -> Result<MfaDevice, Error> {
        d.arn = entity_arn(
            &self.partition,
            &d.account,
            MfaDevice::WORD,
            &d.path,
            &d.name,
        );
        d.seed_sealed = self.at_rest.seal(&seal_owner(&d.arn), &seed.to_base32())?;
        self.create(d).await
    }

    /// A device by name.
    pub async fn mfa_device(&self, account: &str, name: &str) -> Result<Option<MfaDevice>, Error> {
        self.get(account, name).await
    }

    /// A device by its serial number (ARN): [`Error::MfaDeviceNotFound`] unless a device of that
    /// name exists with exactly that ARN.
    pub async fn mfa_device_required(
        &self,
        account: &str,
        name: &str,
        serial: &str,
    ) -> Result<MfaDevice, Error> {
        match self.mfa_device(account, name).await? {
            Some(d) if d.arn == serial => Ok(d),
            _ => Err(Error::MfaDeviceNotFound {
                serial: serial.to_owned(),
            }),
        }
    }

    fn mfa_seed(&self, d: &MfaDevice) -> Result<Seed, Error> {
        let text = self.at_rest.open(&seal_owner(&d.arn), &d.seed_sealed)?;
        Seed::from_base32(text.expose()).ok_or_else(|| {
            Error::Store(crate::store::Error::Corrupt {
                key: keys::entity(MfaDevice::PREFIX, &d.account, &d.name),
                reason: "sealed MFA seed is not base32".into(),
            })
        })
    }

    /// The devices enabled for a user (by unique id; the account id for the root).
    pub async fn mfa_devices_of(
        &self,
        account: &str,
        owner_id: &str,
    ) -> Result<Vec<MfaDevice>, Error> {
        let mut out = Vec::new();
        for (k, _) in self
            .scan_all(&keys::mfa_owner_devices(account, owner_id))
            .await?
        {
            let Some(name) = keys::member_name(&k) else {
                continue;
            };
            if let Some(d) = self.mfa_device(account, name).await?
                && d.is_assigned_to(owner_id)
            {
                out.push(d);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// How many devices of an account are enabled, and whether one is enabled for the root
    /// (`GetAccountSummary`'s `MFADevicesInUse` and `AccountMFAEnabled`).
    pub async fn mfa_devices_in_use(&self, account: &str) -> Result<(usize, bool), Error> {
        let enabled = self.scan_all(&keys::mfa_owners(account)).await?;
        let root = keys::mfa_owner_devices(account, account);
        let root_has = enabled.iter().any(|(k, _)| k.starts_with(&root));
        Ok((enabled.len(), root_has))
    }

    /// Whether a user (or the root) has any device enabled (DeleteUser's check).
    pub async fn has_mfa_devices(&self, account: &str, owner_id: &str) -> Result<bool, Error> {
        self.any_under(&keys::mfa_owner_devices(account, owner_id))
            .await
    }

    /// Enables a device for `owner_id` with two consecutive codes: the device must be
    /// unassigned and the owner below the quota. The codes' steps are used from then on.
    ///
    /// # Errors
    /// [`Error::MfaDeviceNotFound`], [`Error::MfaDeviceInUse`], [`Error::LimitExceeded`],
    /// [`Error::MfaCode`].
    #[expect(clippy::too_many_arguments, reason = "one write with its parts")]
    pub async fn enable_mfa_device(
        &self,
        account: &str,
        name: &str,
        serial: &str,
        owner_id: &str,
        code1: &Code,
        code2: &Code,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<MfaDevice, Error> {
        let d = self.mfa_device_required(account, name, serial).await?;
        if d.assigned.is_some() {
            return Err(Error::MfaDeviceInUse {
                serial: serial.to_owned(),
            });
        }
        let owned = self
            .scan_all(&keys::mfa_owner_devices(account, owner_id))
            .await?;
        if owned.len() >= MAX_MFA_DEVICES_PER_USER {
            return Err(Error::LimitExceeded(Limit::MfaDevicesPerUser(
                MAX_MFA_DEVICES_PER_USER,
            )));
        }
        let seed = self.mfa_seed(&d)?;
        // Enabling accepts codes within the resync window (AWS: codes submitted late still
        // enable the device); the device's clock is taken as right (no drift).
        let fresh = DeviceState::default();
        let Outcome { result, .. } = fresh.resync(&seed, code1, code2, now.timestamp());
        let step = result.map_err(Error::MfaCode)?;
        let state = DeviceState::enabled_at(step, 0);
        let owner = owner_id.to_owned();
        let state_key = keys::mfa_state(account, name);
        let index = keys::mfa_owner_device(account, owner_id, name);
        self.update(account, name, |dev: &mut MfaDevice, batch: &mut Batch| {
            if dev.assigned.is_some() || dev.arn != serial {
                return Err(Error::MfaDeviceInUse {
                    serial: serial.to_owned(),
                });
            }
            dev.assigned = Some(MfaAssignment {
                user_id: owner.clone(),
                enable_date: now,
            });
            batch.puts.push((state_key.clone(), to_json(&state)?));
            batch.puts.push((index.clone(), keys::MARK.to_vec()));
            Ok(())
        })
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::MfaDeviceNotFound {
                serial: serial.to_owned(),
            },
            other => other,
        })
    }

    /// Resynchronises an enabled device with two consecutive codes (searched in ±10 minutes;
    /// the device's drift is learned).
    ///
    /// # Errors
    /// [`Error::MfaDeviceNotFound`] (also when not enabled for `owner_id`), [`Error::MfaCode`].
    #[expect(
        clippy::too_many_arguments,
        reason = "the device, its owner and the two codes"
    )]
    pub async fn resync_mfa_device(
        &self,
        account: &str,
        name: &str,
        serial: &str,
        owner_id: &str,
        code1: &Code,
        code2: &Code,
        now: i64,
    ) -> Result<(), Error> {
        let d = self.mfa_device_required(account, name, serial).await?;
        if !d.is_assigned_to(owner_id) {
            return Err(Error::MfaDeviceNotFound {
                serial: serial.to_owned(),
            });
        }
        let seed = self.mfa_seed(&d)?;
        let not_found = || Error::MfaDeviceNotFound {
            serial: serial.to_owned(),
        };
        let result = self
            .transition(account, name, not_found, |state| {
                state.resync(&seed, code1, code2, now)
            })
            .await?;
        result.map(|_| ()).map_err(Error::MfaCode)
    }

    /// Checks a code presented by `owner_id` for the device `serial` and, if accepted, uses its
    /// step (and every earlier one) for good. A refusal is recorded (throttling).
    pub async fn use_mfa_device(
        &self,
        account: &str,
        name: &str,
        serial: &str,
        owner_id: &str,
        code: &Code,
        now: i64,
    ) -> Result<MfaUse, Error> {
        let d = match self.mfa_device(account, name).await? {
            Some(d) if d.arn == serial && d.is_assigned_to(owner_id) => d,
            _ => return Ok(MfaUse::NotAssigned),
        };
        let seed = self.mfa_seed(&d)?;
        let not_found = || Error::MfaDeviceNotFound {
            serial: serial.to_owned(),
        };
        match self
            .transition(account, name, not_found, |state| {
                state.attempt(&seed, code, now)
            })
            .await
        {
            Ok(Ok(step)) => Ok(MfaUse::Accepted { step }),
            Ok(Err(why)) => Ok(MfaUse::Refused(why)),
            // Deactivated meanwhile (the state is gone).
            Err(Error::MfaDeviceNotFound { .. }) => Ok(MfaUse::NotAssigned),
            Err(e) => Err(e),
        }
    }

    /// One compare-and-swap transition of a device's state: read, decide purely, commit with a
    /// check that the state is still what was read; retried on conflict with a fresh read.
    async fn transition(
        &self,
        account: &str,
        name: &str,
        not_found: impl Fn() -> Error,
        decide: impl Fn(&DeviceState) -> Outcome,
    ) -> Result<Result<u64, Refusal>, Error> {
        let key = keys::mfa_state(account, name);
        for _ in 0..USE_ATTEMPTS {
            let Some(raw) = self.kv.get(&key).await? else {
                // No state: the device is not (or no longer) enabled.
                return Err(not_found());
            };
            let state: DeviceState = decode(&key, &raw)?;
            let Outcome { next, result } = decide(&state);
            if next == state {
                return Ok(result);
            }
            let batch = Batch::new()
                .check(Check::Equals(key.clone(), raw))
                .put(key.clone(), to_json(&next)?);
            match self.kv.commit(batch).await {
                Ok(()) => return Ok(result),
                Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(key))
    }

    /// Deactivates a device enabled for `owner_id`: unassigned, its state and index entry gone,
    /// in one batch.
    ///
    /// # Errors
    /// [`Error::MfaDeviceNotFound`] when no such device is enabled for that owner.
    pub async fn deactivate_mfa_device(
        &self,
        account: &str,
        name: &str,
        serial: &str,
        owner_id: &str,
    ) -> Result<MfaDevice, Error> {
        let state_key = keys::mfa_state(account, name);
        let index = keys::mfa_owner_device(account, owner_id, name);
        self.update(account, name, |d: &mut MfaDevice, batch: &mut Batch| {
            if d.arn != serial || !d.is_assigned_to(owner_id) {
                return Err(Error::MfaDeviceNotFound {
                    serial: serial.to_owned(),
                });
            }
            d.assigned = None;
            batch.deletes.push(state_key.clone());
            batch.deletes.push(index.clone());
            Ok(())
        })
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::MfaDeviceNotFound {
                serial: serial.to_owned(),
            },
            other => other,
        })
    }

    /// Deletes an unassigned device.
    ///
    /// # Errors
    /// [`Error::MfaDeviceNotFound`]; [`Error::DeleteConflict`] while it is enabled.
    pub async fn delete_mfa_device(
        &self,
        account: &str,
        name: &str,
        serial: &str,
    ) -> Result<MfaDevice, Error> {
        self.mfa_device_required(account, name, serial).await?;
        self.delete_if(account, name, |d: &MfaDevice| {
            d.assigned.is_some().then_some(Dependants::MfaDevices)
        })
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::MfaDeviceNotFound {
                serial: serial.to_owned(),
            },
            other => other,
        })
    }
}
