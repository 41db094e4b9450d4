//! Virtual MFA devices: `CreateVirtualMFADevice`, `EnableMFADevice`, `ResyncMFADevice`,
//! `DeactivateMFADevice`, `DeleteVirtualMFADevice`, `ListMFADevices`, `ListVirtualMFADevices`,
//! `GetMFADevice`; `TagMFADevice`, `UntagMFADevice`, `ListMFADeviceTags` are the generic
//! tagging actions (`tagging.rs`) over this file's [`TaggedEntity`] for devices.
//!
//! Device actions are authorized on the device's ARN; assignment actions on the user's (the
//! root's ARN for the root), as the Service Authorization Reference lists them. The seed and its
//! QR code are in `CreateVirtualMFADevice`'s answer and nowhere else: never in the audit event.

use serde_json::json;

use super::common::{self, Paging, arn_of, authorize, reply};
use super::condition_keys::RequestFacts;
use super::tagging::{Address, TaggedEntity};
use super::xml;
use crate::action::{Ctx, Reply};
use crate::authn::Principal;
use crate::error::{ApiError, Code};
use crate::iam::model::MfaDevice;
use crate::iam::names::{EntityArn, check_name};
use crate::mfa::params::{MAX_DEVICE_NAME, SerialNumber, parse_code};
use crate::mfa::{enroll, totp};
use crate::token::SessionKind;
use crate::wire::xml::iso8601;
use crate::wire::{Params, XmlWriter};

/// Whom an assignment action is about: a user, or the account root.
struct Owner {
    /// The user's unique id, or the account id.
    id: String,
    /// The user's name, or the account id for the root.
    name: String,
    /// The ARN the action is authorized on.
    arn: String,
    /// Whether this is the root.
    root: bool,
}

/// Audit summary of a device (no seed).
fn summary(d: &MfaDevice) -> serde_json::Value {
    json!({
        "serialNumber": d.arn,
        "path": d.path,
        "assignedTo": d.assigned.as_ref().map(|a| a.user_id.clone()),
        "tags": d.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// `SerialNumber` of a virtual device in the caller's account. Hardware serials and other
/// accounts' devices are `NoSuchEntity`.
fn serial(ctx: &Ctx, p: &mut Params) -> Result<EntityArn, ApiError> {
    let text = p.req("SerialNumber")?;
    let missing = |s: &str| {
        ApiError::new(
            Code::NoSuchEntity,
            format!("VirtualMFADevice with serial number {s} doesn't exist."),
        )
    };
    match SerialNumber::parse("SerialNumber", &text)? {
        SerialNumber::Virtual(a) if a.account == ctx.caller()?.account => Ok(a),
        _ => Err(missing(&text)),
    }
}

/// The owner named by `UserName`, or the caller itself (a user, or the root; a
/// `GetSessionToken` session stands for its user). A user that does not exist is `NoSuchEntity`
/// once `action` is authorized on the ARN it would have (as the user actions answer).
async fn owner(ctx: &Ctx, action: &str, user_name: Option<String>) -> Result<Owner, ApiError> {
    let caller = ctx.caller()?;
    let account = &caller.account;
    let root = || Owner {
        id: account.clone(),
        name: account.clone(),
        arn: caller.arn.clone(),
        root: true,
    };
    let name = match (user_name, &caller.principal) {
        (Some(n), _) => n,
        (None, Principal::Root) => return Ok(root()),
        (None, Principal::User(u)) => u.name.clone(),
        (None, Principal::Session(c)) if c.kind == SessionKind::UserSession => {
            if c.principal_id == c.account {
                return Ok(root());
            }
            let u = ctx
                .st
                .iam
                .user_by_id(&c.principal_id)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_token().with_detail("the session's user no longer exists")
                })?;
            u.name.clone()
        }
        (None, Principal::Session(_)) => {
            return Err(ApiError::validation(
                "Must specify userName when calling with non-User credentials",
            ));
        }
    };
    match ctx.st.iam.user(account, &name).await? {
        Some(u) => Ok(Owner {
            id: u.id,
            name: u.name,
            arn: u.arn,
            root: false,
        }),
        None => {
            authorize(ctx, action, &arn_of(ctx, account, "user", "/", &name)).await?;
            Err(crate::iam::names::no_such("user", &name))
        }
    }
}

/// The two codes of `EnableMFADevice` and `ResyncMFADevice`.
fn codes(p: &mut Params) -> Result<(totp::Code, totp::Code), ApiError> {
    let c1 = p.req("AuthenticationCode1")?;
    let c2 = p.req("AuthenticationCode2")?;
    Ok((
        parse_code("AuthenticationCode1", &c1)?,
        parse_code("AuthenticationCode2", &c2)?,
    ))
}

/// The label an authenticator app shows for the account: its alias, else its id.
async fn account_label(ctx: &Ctx, account: &str) -> Result<String, ApiError> {
    Ok(ctx
        .st
        .iam
        .account(account)
        .await?
        .and_then(|a| a.alias)
        .unwrap_or_else(|| account.to_owned()))
}

/// `CreateVirtualMFADevice`: the only answer that holds the seed (and its QR code).
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = p.req("VirtualMFADeviceName")?;
    check_name("VirtualMFADeviceName", &name, MAX_DEVICE_NAME)?;
    let path = common::path(p, "Path")?.unwrap_or_else(|| "/".to_owned());
    let tags = common::tags(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let arn = arn_of(ctx, &account, "mfa", &path, &name);
    common::authorize_with(
        ctx,
        "CreateVirtualMFADevice",
        &arn,
        &RequestFacts {
            tags: &tags,
            ..RequestFacts::default()
        },
    )
    .await?;
    let seed = totp::Seed::generate();
    let device = MfaDevice {
        account: account.clone(),
        name,
        path,
        arn: String::new(),
        create_date: ctx.env.now,
        seed_sealed: String::new(),
        tags,
        assigned: None,
    };
    let d = ctx.st.iam.create_mfa_device(device, &seed).await?;
    let b32 = seed.to_base32();
    let label = account_label(ctx, &account).await?;
    let uri = enroll::otpauth_uri("Sekisho", &d.name, &label, &b32);
    let png = enroll::qr_png(&uri).map_err(ApiError::internal)?;
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let mut w = XmlWriter::new();
    w.start("VirtualMFADevice")
        .elem("SerialNumber", &d.arn)
        .elem("Base32StringSeed", &b64(b32.expose().as_bytes()))
        .elem("QRCodePNG", &b64(&png));
    xml::tags(&mut w, &d.tags, false);
    w.end("VirtualMFADevice");
    Ok(reply(
        w.finish(),
        json!({ "virtualMFADevice": summary(&d) }),
    ))
}

/// `EnableMFADevice` (two consecutive codes; `UserName` absent: the caller, root included).
pub async fn enable(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let user = common::opt_name(p, "UserName", 128)?;
    let arn = serial(ctx, p)?;
    let (c1, c2) = codes(p)?;
    p.finish()?;
    let o = owner(ctx, "EnableMFADevice", user).await?;
    authorize(ctx, "EnableMFADevice", &o.arn).await?;
    let d = ctx
        .st
        .iam
        .enable_mfa_device(
            &arn.account,
            &arn.name,
            &arn.text,
            &o.id,
            &c1,
            &c2,
            ctx.env.now,
        )
        .await?;
    Ok(common::empty(json!({ "after": summary(&d) })))
}

/// `ResyncMFADevice`.
pub async fn resync(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let user = common::opt_name(p, "UserName", 128)?;
    let arn = serial(ctx, p)?;
    let (c1, c2) = codes(p)?;
    p.finish()?;
    let o = owner(ctx, "ResyncMFADevice", user).await?;
    authorize(ctx, "ResyncMFADevice", &o.arn).await?;
    ctx.st
        .iam
        .resync_mfa_device(
            &arn.account,
            &arn.name,
            &arn.text,
            &o.id,
            &c1,
            &c2,
            ctx.env.now.timestamp(),
        )
        .await?;
    Ok(common::empty(json!({ "serialNumber": arn.text })))
}

/// `DeactivateMFADevice` (`UserName` absent: the caller).
pub async fn deactivate(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let user = common::opt_name(p, "UserName", 128)?;
    let arn = serial(ctx, p)?;
    p.finish()?;
    let o = owner(ctx, "DeactivateMFADevice", user).await?;
    authorize(ctx, "DeactivateMFADevice", &o.arn).await?;
    let d = ctx
        .st
        .iam
        .deactivate_mfa_device(&arn.account, &arn.name, &arn.text, &o.id)
        .await?;
    Ok(common::empty(json!({ "after": summary(&d) })))
}

/// `DeleteVirtualMFADevice` (refused while enabled).
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = serial(ctx, p)?;
    p.finish()?;
    authorize(ctx, "DeleteVirtualMFADevice", &arn.text).await?;
    let d = ctx
        .st
        .iam
        .delete_mfa_device(&arn.account, &arn.name, &arn.text)
        .await?;
    Ok(common::empty(json!({ "before": summary(&d) })))
}

/// `ListMFADevices` (`UserName` absent: the caller).
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let user = common::opt_name(p, "UserName", 128)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let o = owner(ctx, "ListMFADevices", user).await?;
    authorize(ctx, "ListMFADevices", &o.arn).await?;
    let account = common::account(ctx)?;
    let devices = ctx.st.iam.mfa_devices_of(&account, &o.id).await?;
    let (items, next) = paging.page(devices, |d| d.name.to_lowercase())?;
    let mut w = XmlWriter::new();
    w.start("MFADevices");
    for d in &items {
        w.start("member")
            .elem("UserName", &o.name)
            .elem("SerialNumber", &d.arn);
        if let Some(a) = &d.assigned {
            w.elem("EnableDate", &iso8601(a.enable_date));
        }
        w.end("member");
    }
    w.end("MFADevices");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

/// `GetMFADevice`: the device's user and enable date. Authorized on that user's ARN (the one
/// `UserName` names, which must be the device's user, else the device's user, else the
/// caller's own ARN when the device is unknown or not enabled).
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let user = common::opt_name(p, "UserName", 128)?;
    let arn = serial(ctx, p)?;
    p.finish()?;
    let caller_arn = ctx.caller()?.arn.clone();
    let named = match user {
        Some(n) => Some(owner(ctx, "GetMFADevice", Some(n)).await?),
        None => None,
    };
    let device = ctx.st.iam.mfa_device(&arn.account, &arn.name).await?;
    let device = device.filter(|d| d.arn == arn.text);
    let holder = match device.as_ref().filter(|d| d.assigned.is_some()) {
        Some(d) => Some(user_of(ctx, d).await?),
        None => None,
    };
    let target = named
        .as_ref()
        .or(holder.as_ref())
        .map_or(caller_arn.as_str(), |o| o.arn.as_str());
    authorize(ctx, "GetMFADevice", target).await?;
    let not_found = || {
        ApiError::new(
            Code::NoSuchEntity,
            format!(
                "VirtualMFADevice with serial number {} doesn't exist.",
                arn.text
            ),
        )
    };
    let (Some(d), Some(holder)) = (device, holder) else {
        return Err(not_found());
    };
    if named.as_ref().is_some_and(|o| o.id != holder.id) {
        return Err(not_found());
    }
    let enabled = d
        .assigned
        .as_ref()
        .map(|a| a.enable_date)
        .unwrap_or_default();
    let mut w = XmlWriter::new();
    w.elem("UserName", &holder.name)
        .elem("SerialNumber", &d.arn)
        .elem("EnableDate", &iso8601(enabled));
    Ok(reply(w.finish(), json!(null)))
}

/// The user a device is enabled for, as the listings show it (the root: its account id and ARN).
async fn user_of(ctx: &Ctx, d: &MfaDevice) -> Result<Owner, ApiError> {
    let Some(a) = &d.assigned else {
        return Err(ApiError::internal("user_of an unassigned device"));
    };
    if a.user_id == d.account {
        return Ok(Owner {
            id: d.account.clone(),
            name: d.account.clone(),
            arn: format!("arn:{}:iam::{}:root", ctx.st.iam.partition, d.account),
            root: true,
        });
    }
    match ctx.st.iam.user_by_id(&a.user_id).await? {
        Some(u) => Ok(Owner {
            id: u.id.clone(),
            name: u.name.clone(),
            arn: u.arn.clone(),
            root: false,
        }),
        None => Err(ApiError::internal(format!(
            "MFA device {} is enabled for a user that no longer exists",
            d.arn
        ))),
    }
}

/// `ListVirtualMFADevices` (`AssignmentStatus`: `Assigned`, `Unassigned` or `Any`).
pub async fn list_virtual(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let status = p.opt("AssignmentStatus");
    let paging = Paging::read(p)?;
    p.finish()?;
    let want: Option<bool> = match status.as_deref() {
        None | Some("Any") => None,
        Some("Assigned") => Some(true),
        Some("Unassigned") => Some(false),
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'assignmentStatus' failed to \
                 satisfy constraint: Member must satisfy enum value set: [Unassigned, Any, \
                 Assigned]"
            )));
        }
    };
    authorize(ctx, "ListVirtualMFADevices", "*").await?;
    let account = common::account(ctx)?;
    let all: Vec<MfaDevice> = ctx.st.iam.all::<MfaDevice>(&account).await?;
    let chosen: Vec<MfaDevice> = all
        .into_iter()
        .filter(|d| want.is_none_or(|w| d.assigned.is_some() == w))
        .collect();
    let (items, next) = paging.page(chosen, |d| d.name.to_lowercase())?;
    let mut w = XmlWriter::new();
    w.start("VirtualMFADevices");
    for d in &items {
        w.start("member").elem("SerialNumber", &d.arn);
        if let Some(a) = &d.assigned {
            let holder = user_of(ctx, d).await?;
            w.start("User");
            if holder.root {
                let created = ctx
                    .st
                    .iam
                    .account(&account)
                    .await?
                    .map(|a| a.create_date)
                    .unwrap_or_default();
                w.elem("UserId", &holder.id)
                    .elem("Arn", &holder.arn)
                    .elem("CreateDate", &iso8601(created));
            } else if let Some(u) = ctx.st.iam.user_by_id(&holder.id).await? {
                xml::user(&mut w, &u, false);
            }
            w.end("User");
            w.elem("EnableDate", &iso8601(a.enable_date));
        }
        xml::tags(&mut w, &d.tags, false);
        w.end("member");
    }
    w.end("VirtualMFADevices");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

impl TaggedEntity for MfaDevice {
    const TAG_ACTIONS: &'static str = "MFADevice";

    fn arn(&self) -> &str {
        &self.arn
    }

    fn summary(&self) -> serde_json::Value {
        summary(self)
    }

    fn address(ctx: &Ctx, p: &mut Params) -> Result<Address, ApiError> {
        let a = serial(ctx, p)?;
        Ok(Address {
            name: a.name,
            arn: Some(a.text),
        })
    }

    fn not_found(address: &Address) -> ApiError {
        ApiError::new(
            Code::NoSuchEntity,
            format!(
                "VirtualMFADevice with serial number {} doesn't exist.",
                address.arn.as_deref().unwrap_or(&address.name)
            ),
        )
    }
}
