//! `SimulatePrincipalPolicy` and `SimulateCustomPolicy`, answered in AWS's `EvaluationResults`
//! shape, using the policy engine's simulator.
//!
//! Bounded work: AWS documents no bound on the number of `ActionNames`, `ResourceArns` or
//! `PolicyInputList` members, only on each member (an action name 3..=128 characters, a
//! resource ARN 1..=2048, a policy document 1..=131072) and one permissions boundary; Sekisho
//! also caps the lists ([`MAX_ACTIONS`], [`MAX_RESOURCES`], [`MAX_POLICY_INPUTS`]). Only the page
//! asked for is evaluated, on the blocking pool, and a page holds fewer than `MaxItems` results
//! (still `IsTruncated`) when its evaluation reaches [`PAGE_BUDGET`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::common::{self, Paging, authorize, reply};
use crate::action::{Ctx, Reply};
use crate::authz::policies;
use crate::error::{ApiError, Code};
use crate::iam::names::parse_entity_arn;
use crate::iam::repo::{decode_marker, encode_marker};
use crate::policy::{Context, Policy, PolicyId, PolicyKind, RequestPrincipal, Simulation};
use crate::wire::params::check_len;
use crate::wire::{Params, XmlWriter};

/// Most `ActionNames` members per call (Sekisho's bound; AWS documents none). With
/// [`MAX_RESOURCES`] and [`MAX_POLICY_INPUTS`] it fits in one request's
/// [`crate::wire::params::MAX_PARAMS`].
pub const MAX_ACTIONS: usize = 400;
/// Most `ResourceArns` members per call (Sekisho's bound; AWS documents none).
pub const MAX_RESOURCES: usize = 400;
/// Most `PolicyInputList` members per call (Sekisho's bound; AWS documents none).
pub const MAX_POLICY_INPUTS: usize = 100;
/// Most `PermissionsBoundaryPolicyInputList` members: AWS takes one boundary.
pub const MAX_BOUNDARY_INPUTS: usize = 1;
/// The work one page may do, in policy patterns examined
/// ([`Simulation::cost_per_result`]): about a tenth of a second on one core.
pub const PAGE_BUDGET: usize = 2_000_000;

/// One context entry as sent: name, type, values by index.
type Entry = (Option<String>, Option<String>, BTreeMap<usize, String>);

/// `ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M, ContextKeyType}`.
fn context_entries(p: &mut Params) -> Result<Context, ApiError> {
    let names: Vec<String> = p
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| k.starts_with("ContextEntries.member."))
        .collect();
    let _ = p.opt("ContextEntries");
    let mut entries: BTreeMap<usize, Entry> = BTreeMap::new();
    for k in names {
        let v = p.opt(&k).unwrap_or_default();
        let rest = k.get("ContextEntries.member.".len()..).unwrap_or_default();
        let bad = || {
            ApiError::new(
                Code::InvalidParameterValue,
                format!("Invalid list parameter {k}"),
            )
        };
        let (idx, field) = rest.split_once('.').ok_or_else(bad)?;
        let idx: usize = idx.parse().map_err(|_| bad())?;
        let e = entries.entry(idx).or_default();
        match field {
            "ContextKeyName" => e.0 = Some(v),
            "ContextKeyType" => e.1 = Some(v),
            f => {
                let i = f
                    .strip_prefix("ContextKeyValues.member.")
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(bad)?;
                e.2.insert(i, v);
            }
        }
    }
    let mut ctx = Context::new();
    for (name, ty, values) in entries.into_values() {
        let name = name.ok_or_else(|| {
            ApiError::validation("1 validation error detected: Value null at 'contextEntries.member.contextKeyName' failed to satisfy constraint: Member must not be null")
        })?;
        let values: Vec<String> = values.into_values().collect();
        match ty.as_deref() {
            Some(t) if t.ends_with("List") => ctx.set_multi(&name, values),
            _ => {
                if let Some(v) = values.into_iter().next() {
                    ctx.set(&name, v);
                }
            }
        }
    }
    Ok(ctx)
}

fn parse_inputs(
    ctx: &Ctx,
    docs: &[String],
    list: &str,
    kind: PolicyKind,
) -> Result<Vec<(PolicyId, Arc<Policy>)>, ApiError> {
    docs.iter()
        .enumerate()
        .map(|(i, d)| {
            let p = ctx
                .st
                .iam
                .policies
                .get_or_parse(d, kind)
                .map_err(ApiError::from)?;
            Ok((PolicyId(format!("{list}.{}", i + 1).into()), p))
        })
        .collect()
}

/// `SourcePolicyId` and `SourcePolicyType` of a matched statement's policy.
fn source(id: &PolicyId) -> (String, &'static str) {
    let s: &str = &id.0;
    if let Some((owner, name)) = s.split_once("#inline/") {
        let ty = if owner.contains(":group/") {
            "group"
        } else if owner.contains(":role/") {
            "role"
        } else {
            "user"
        };
        return (name.to_owned(), ty);
    }
    if let Some((acct, _, name)) = parse_entity_arn(s, "policy") {
        return (
            name.to_owned(),
            if acct == "aws" {
                "aws-managed"
            } else {
                "user-managed"
            },
        );
    }
    if s == "ResourcePolicy" {
        return (s.to_owned(), "resource");
    }
    (s.to_owned(), "none")
}

/// Evaluates and renders the page `paging` asks for. Markers are the grid index of the last
/// result returned (as before: `{index:08}`), so a page starts right after it.
fn render(sim: &Simulation<'_>, paging: &Paging) -> Result<String, ApiError> {
    let start = match paging.marker.as_deref() {
        None => 0,
        Some(m) => decode_marker(m)?
            .parse::<usize>()
            .ok()
            .and_then(|i| i.checked_add(1))
            .ok_or_else(|| ApiError::new(Code::InvalidInput, "Invalid Marker"))?,
    };
    let page = sim.page(start, paging.max_items, PAGE_BUDGET);
    let mut w = XmlWriter::new();
    w.start("EvaluationResults");
    for r in &page.results {
        w.start("member")
            .elem("EvalActionName", &r.action)
            .elem("EvalResourceName", &r.resource)
            .elem("EvalDecision", r.decision)
            .start("MatchedStatements");
        for m in r.matched.iter().filter_map(|m| sim.statement(*m)) {
            let (id, ty) = source(m.policy);
            w.start("member")
                .elem("SourcePolicyId", &id)
                .elem("SourcePolicyType", ty)
                .end("member");
        }
        w.end("MatchedStatements").start("MissingContextValues");
        for k in &r.missing_context_keys {
            w.elem("member", k);
        }
        w.end("MissingContextValues").end("member");
    }
    w.end("EvaluationResults");
    let next = page
        .results
        .last()
        .filter(|_| page.next.is_some())
        .map(|r| encode_marker(&format!("{:08}", r.index)));
    super::xml::page_end(&mut w, next.as_deref());
    Ok(w.finish())
}

/// A list parameter of at most `max` members, each `min_len..=max_len` characters.
fn bounded_list(
    p: &mut Params,
    name: &str,
    max: usize,
    member_len: Option<(usize, usize)>,
) -> Result<Vec<String>, ApiError> {
    let v = p.list(name)?;
    if v.len() > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member \
             must have length less than or equal to {max}",
            lower_first(name)
        )));
    }
    if let Some((lo, hi)) = member_len {
        for m in &v {
            check_len(&format!("{name}.member"), m, lo, hi)?;
        }
    }
    Ok(v)
}

/// The account of `ResourceOwner`: an ARN naming an account (`arn:aws:iam::A:root`, or any
/// ARN whose account field is 12 digits) or a bare account id.
fn owner_account(owner: &str) -> Result<String, ApiError> {
    let account = match crate::iam::names::parse_arn(owner) {
        Some(arn) => arn.account.to_owned(),
        None => owner.to_owned(),
    };
    if crate::ids::is_valid_account_id(&account) {
        Ok(account)
    } else {
        Err(ApiError::new(
            Code::InvalidInput,
            format!("Invalid ResourceOwner {owner}: it must name a 12-digit account"),
        ))
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

struct Common {
    inputs: Vec<String>,
    boundaries: Vec<String>,
    actions: Vec<String>,
    resources: Vec<String>,
    resource_policy: Option<String>,
    owner: Option<String>,
    caller_arn: Option<String>,
    context: Context,
    paging: Paging,
}

fn read_common(p: &mut Params, inputs_required: bool) -> Result<Common, ApiError> {
    // Required means given: an empty list (`PolicyInputList=`, how botocore sends `[]`) is a
    // list, and a simulation of a resource policy alone needs no identity policy.
    if inputs_required && p.list_given("PolicyInputList")?.is_none() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null",
        ));
    }
    let inputs = bounded_list(p, "PolicyInputList", MAX_POLICY_INPUTS, None)?;
    let boundaries = bounded_list(
        p,
        "PermissionsBoundaryPolicyInputList",
        MAX_BOUNDARY_INPUTS,
        None,
    )?;
    let actions = bounded_list(p, "ActionNames", MAX_ACTIONS, Some((3, 128)))?;
    if actions.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null",
        ));
    }
    let resources = bounded_list(p, "ResourceArns", MAX_RESOURCES, Some((1, 2048)))?;
    let resource_policy = p.opt("ResourcePolicy");
    let owner = p
        .opt("ResourceOwner")
        .map(|o| owner_account(&o))
        .transpose()?;
    let caller_arn = p.opt("CallerArn");
    let _ = p.opt("ResourceHandlingOption");
    let context = context_entries(p)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    Ok(Common {
        inputs,
        boundaries,
        actions,
        resources,
        resource_policy,
        owner,
        caller_arn,
        context,
        paging,
    })
}

async fn run(
    ctx: &Ctx,
    c: &Common,
    mut identity: Vec<(PolicyId, Arc<Policy>)>,
    mut boundary: Vec<(PolicyId, Arc<Policy>)>,
    principal: RequestPrincipal,
) -> Result<Reply, ApiError> {
    identity.extend(parse_inputs(
        ctx,
        &c.inputs,
        "PolicyInputList",
        PolicyKind::Identity,
    )?);
    if !c.boundaries.is_empty() {
        boundary = parse_inputs(
            ctx,
            &c.boundaries,
            "PermissionsBoundaryPolicyInputList",
            PolicyKind::Boundary,
        )?;
    }
    let resource = match &c.resource_policy {
        Some(d) => Some((
            PolicyId("ResourcePolicy".into()),
            ctx.st
                .iam
                .policies
                .get_or_parse(d, PolicyKind::Resource)
                .map_err(ApiError::from)?,
        )),
        None => None,
    };
    let actions = c.actions.clone();
    let resources = c.resources.clone();
    let context = c.context.clone();
    let owner = c.owner.clone();
    let paging = c.paging.clone();
    // The evaluation is CPU work proportional to the page: off the async workers.
    let xml = tokio::task::spawn_blocking(move || {
        let id_refs: Vec<(PolicyId, &Policy)> = identity
            .iter()
            .map(|(i, p)| (i.clone(), p.as_ref()))
            .collect();
        let b_refs: Vec<(PolicyId, &Policy)> = boundary
            .iter()
            .map(|(i, p)| (i.clone(), p.as_ref()))
            .collect();
        let r_ref = resource.as_ref().map(|(i, p)| (i.clone(), p.as_ref()));
        let sim = Simulation::new(
            &id_refs,
            &b_refs,
            r_ref,
            &actions,
            &resources,
            &context,
            principal,
            owner.as_deref(),
        );
        render(&sim, &paging)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(reply(xml, json!(null)))
}

/// `SimulateCustomPolicy`.
pub async fn custom(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let c = read_common(p, true)?;
    let caller = authorize(ctx, "SimulateCustomPolicy", "*").await?;
    let principal = RequestPrincipal::from_arn(c.caller_arn.as_deref().unwrap_or(&caller.arn));
    run(ctx, &c, Vec::new(), Vec::new(), principal).await
}

/// `SimulatePrincipalPolicy`: the user's (with its groups'), group's or role's policies and
/// boundary, plus any `PolicyInputList`.
pub async fn principal(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let source_arn = p.req("PolicySourceArn")?;
    crate::wire::params::check_len("PolicySourceArn", &source_arn, 20, 2048)?;
    let c = read_common(p, false)?;
    authorize(ctx, "SimulatePrincipalPolicy", &source_arn).await?;
    let account = common::account(ctx)?;
    let iam = &ctx.st.iam;
    let invalid = || ApiError::new(Code::InvalidInput, format!("Invalid ARN {source_arn}"));
    let foreign = |a: &str| if a == account { Ok(()) } else { Err(invalid()) };
    let (identity, boundary, principal) =
        if let Some((a, _, name)) = parse_entity_arn(&source_arn, "user") {
            foreign(a)?;
            let u = iam
                .user(a, name)
                .await?
                .filter(|u| u.arn == source_arn)
                .ok_or_else(|| {
                    ApiError::new(
                        Code::NoSuchEntity,
                        format!("The user with name {name} cannot be found."),
                    )
                })?;
            let b = policies::boundary(iam, u.permissions_boundary.as_deref())
                .await?
                .into_iter()
                .collect();
            let mut pr = RequestPrincipal::from_arn(c.caller_arn.as_deref().unwrap_or(&u.arn));
            pr.unique_id = Some(u.id.clone());
            (policies::user_policies(iam, &u).await?, b, pr)
        } else if let Some((a, _, name)) = parse_entity_arn(&source_arn, "role") {
            foreign(a)?;
            let view = iam.role_view_by_arn(&source_arn).await?.ok_or_else(|| {
                ApiError::new(
                    Code::NoSuchEntity,
                    format!("The role with name {name} cannot be found."),
                )
            })?;
            let r = &view.role;
            let b = policies::boundary(iam, r.permissions_boundary.as_deref())
                .await?
                .into_iter()
                .collect();
            let mut pr = RequestPrincipal::from_arn(&r.arn);
            pr.unique_id = Some(r.id.clone());
            (policies::role_view_policies(iam, &view).await?, b, pr)
        } else if let Some((a, _, name)) = parse_entity_arn(&source_arn, "group") {
            foreign(a)?;
            let g = iam
                .group(a, name)
                .await?
                .filter(|g| g.arn == source_arn)
                .ok_or_else(|| {
                    ApiError::new(
                        Code::NoSuchEntity,
                        format!("The group with name {name} cannot be found."),
                    )
                })?;
            // A group's policies, as a member without other policies would have them.
            let probe = crate::iam::model::User {
                account: a.to_owned(),
                name: String::new(),
                path: "/".into(),
                id: String::new(),
                arn: source_arn.clone(),
                create_date: g.create_date,
                tags: Vec::new(),
                permissions_boundary: None,
                inline_policies: BTreeMap::new(),
                attached_policies: Vec::new(),
                groups: vec![g.name.clone()],
                origin: crate::iam::model::Origin::Api,
            };
            (
                policies::user_policies(iam, &probe).await?,
                Vec::new(),
                RequestPrincipal::from_arn(&source_arn),
            )
        } else {
            return Err(invalid());
        };
    run(ctx, &c, identity, boundary, principal).await
}
