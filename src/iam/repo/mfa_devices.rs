//! Virtual MFA devices: the [`Kind`] of `mfa/{acct}/{name}` records, their assignment to a user
//! (or the root) with the owner index, and the single-use check of their codes.
//!
//! Next to each device enabled once the store keeps its [`DeviceState`] (`mfas/…`: owner, last
//! accepted step, drift, failures). A code is checked by the pure [`DeviceState::attempt`] and
//! the new state is committed with `Check::Equals` on the state read, so two requests with the
//! same fresh code cannot both succeed: the second commit conflicts, re-reads the state, and
//! finds the step used. The state names the owner, so a deactivation between the read and the
//! commit conflicts too. Seeds are sealed with the at-rest key, bound to the ARN.

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
    /// unassigned and the owner below the quota. The codes' steps (and the steps used while the
    /// device was enabled before) are used from then on. One batch: the device record, its
    /// state and the owner index, conditional on the record and the state read.
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
        let owned = self
            .scan_all(&keys::mfa_owner_devices(account, owner_id))
            .await?;
        if owned.len() >= MAX_MFA_DEVICES_PER_USER {
            return Err(Error::LimitExceeded(Limit::MfaDevicesPerUser(
                MAX_MFA_DEVICES_PER_USER,
            )));
        }
        let not_found = || Error::MfaDeviceNotFound {
            serial: serial.to_owned(),
        };
        let key = keys::entity(MfaDevice::PREFIX, account, name);
        let state_key = keys::mfa_state(account, name);
        for _ in 0..USE_ATTEMPTS {
            let raw = self.kv.get(&key).await?.ok_or_else(not_found)?;
            let mut d: MfaDevice = decode(&key, &raw)?;
            if d.arn != serial {
                return Err(not_found());
            }
            if d.assigned.is_some() {
                return Err(Error::MfaDeviceInUse {
                    serial: serial.to_owned(),
                });
            }
            let (state_check, prior) = self.read_state(&state_key).await?;
            let seed = self.mfa_seed(&d)?;
            let Outcome { next, result } =
                prior.enable(&seed, code1, code2, now.timestamp(), owner_id);
            result.map_err(Error::MfaCode)?;
            d.assigned = Some(MfaAssignment {
                user_id: owner_id.to_owned(),
                enable_date: now,
            });
            let batch = Batch::new()
                .check(Check::Equals(key.clone(), raw))
                .check(state_check)
                .put(key.clone(), to_json(&d)?)
                .put(state_key.clone(), to_json(&next)?)
                .put(
                    keys::mfa_owner_device(account, owner_id, name),
                    keys::MARK.to_vec(),
                );
            match self.kv.commit(batch).await {
                Ok(()) => return Ok(d),
                Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(key))
    }

    /// The state at `key` (default if none) and the check that it is still what was read.
    async fn read_state(&self, key: &str) -> Result<(Check, DeviceState), Error> {
        Ok(match self.kv.get(key).await? {
            Some(raw) => {
                let state = decode(key, &raw)?;
                (Check::Equals(key.to_owned(), raw), state)
            }
            None => (Check::Absent(key.to_owned()), DeviceState::default()),
        })
    }

    /// Resynchronises a device enabled for `owner_id` with two consecutive codes (searched in
    /// ±10 minutes; the device's drift is learned).
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
        let seed = self.mfa_seed(&d)?;
        match self
            .transition(account, name, owner_id, |state| {
                state.resync(&seed, code1, code2, now)
            })
            .await?
        {
            Some(Ok(_)) => Ok(()),
            Some(Err(why)) => Err(Error::MfaCode(why)),
            None => Err(Error::MfaDeviceNotFound {
                serial: serial.to_owned(),
            }),
        }
    }

    /// Checks a code presented by `owner_id` for the device `serial` and, if accepted, uses its
    /// step (and every earlier one) for good. A wrong code counts towards throttling.
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
        Ok(
            match self
                .transition(account, name, owner_id, |state| {
                    state.attempt(&seed, code, now)
                })
                .await?
            {
                Some(Ok(step)) => MfaUse::Accepted { step },
                Some(Err(why)) => MfaUse::Refused(why),
                None => MfaUse::NotAssigned,
            },
        )
    }

    /// One compare-and-swap transition of the state of a device enabled for `owner_id`: read,
    /// decide purely, commit with a check that the state is still what was read; retried on
    /// conflict with a fresh read. `None` when the state says the device is not enabled for
    /// that owner (the state, not the possibly cached record, decides).
    async fn transition(
        &self,
        account: &str,
        name: &str,
        owner_id: &str,
        decide: impl Fn(&DeviceState) -> Outcome,
    ) -> Result<Option<Result<u64, Refusal>>, Error> {
        let key = keys::mfa_state(account, name);
        for _ in 0..USE_ATTEMPTS {
            let Some(raw) = self.kv.get(&key).await? else {
                return Ok(None);
            };
            let state: DeviceState = decode(&key, &raw)?;
            if !state.is_enabled_for(owner_id) {
                return Ok(None);
            }
            let Outcome { next, result } = decide(&state);
            if next == state {
                return Ok(Some(result));
            }
            let batch = Batch::new()
                .check(Check::Equals(key.clone(), raw))
                .put(key.clone(), to_json(&next)?);
            match self.kv.commit(batch).await {
                Ok(()) => return Ok(Some(result)),
                Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(key))
    }

    /// Deactivates a device enabled for `owner_id`: unassigned and out of the owner index; its
    /// state stays (no longer naming an owner), so the steps used stay used. One batch,
    /// conditional on the record and the state read.
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
        let not_found = || Error::MfaDeviceNotFound {
            serial: serial.to_owned(),
        };
        let key = keys::entity(MfaDevice::PREFIX, account, name);
        let state_key = keys::mfa_state(account, name);
        for _ in 0..USE_ATTEMPTS {
            let raw = self.kv.get(&key).await?.ok_or_else(not_found)?;
            let mut d: MfaDevice = decode(&key, &raw)?;
            if d.arn != serial || !d.is_assigned_to(owner_id) {
                return Err(not_found());
            }
            d.assigned = None;
            let (state_check, state) = self.read_state(&state_key).await?;
            let batch = Batch::new()
                .check(Check::Equals(key.clone(), raw))
                .check(state_check)
                .put(key.clone(), to_json(&d)?)
                .put(state_key.clone(), to_json(&state.deactivated())?)
                .delete(keys::mfa_owner_device(account, owner_id, name));
            match self.kv.commit(batch).await {
                Ok(()) => return Ok(d),
                Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(key))
    }

    /// Deletes an unassigned device, and its state, in one batch.
    ///
    /// # Errors
    /// [`Error::MfaDeviceNotFound`]; [`Error::DeleteConflict`] while it is enabled.
    pub async fn delete_mfa_device(
        &self,
        account: &str,
        name: &str,
        serial: &str,
    ) -> Result<MfaDevice, Error> {
        let not_found = || Error::MfaDeviceNotFound {
            serial: serial.to_owned(),
        };
        let key = keys::entity(MfaDevice::PREFIX, account, name);
        let raw = self.kv.get(&key).await?.ok_or_else(not_found)?;
        let d: MfaDevice = decode(&key, &raw)?;
        if d.arn != serial {
            return Err(not_found());
        }
        if d.assigned.is_some() {
            return Err(Error::DeleteConflict(Dependants::MfaDevices));
        }
        let batch = Batch::new()
            .check(Check::Equals(key.clone(), raw))
            .delete(key)
            .delete(keys::mfa_state(account, name));
        match self.kv.commit(batch).await {
            Ok(()) => Ok(d),
            // Enabled (or deleted) meanwhile: answer as for what it is now.
            Err(crate::store::Error::Conflict(_)) => match self.mfa_device(account, name).await? {
                Some(now) if now.arn == serial && now.assigned.is_some() => {
                    Err(Error::DeleteConflict(Dependants::MfaDevices))
                }
                _ => Err(not_found()),
            },
            Err(e) => Err(e.into()),
        }
    }
}
