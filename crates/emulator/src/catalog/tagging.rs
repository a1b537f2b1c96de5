//! Catalog tagging and resource policies: `TagResource`, `UntagResource`, `ListTagsForResource`
//! (entities and change sets) and `PutResourcePolicy`, `GetResourcePolicy`,
//! `DeleteResourcePolicy` (entities), with the model's limits (see `docs/aws/catalog.md`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::change_set::{Account, entity_id};
use super::error::{CatalogError, CatalogResult};
use crate::World;

/// Most tags per request (and per resource).
const MAX_TAGS: usize = 200;
/// Longest resource policy.
const MAX_POLICY_CHARS: usize = 10_240;

/// What kind of resource an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Entity,
    ChangeSet,
}

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> CatalogResult<&'a Value> {
    map.get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| CatalogError::validation(format!("{name} is required.")))
}

fn text<'a>(map: &'a Map<String, Value>, name: &str) -> CatalogResult<&'a str> {
    field(map, name)?
        .as_str()
        .ok_or_else(|| CatalogError::validation(format!("{name} must be a string.")))
}

fn object(body: &Value) -> CatalogResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| CatalogError::validation("The request must be a JSON object."))
}

/// The resource an ARN of this seller names: `...:AWSMarketplace/<Type>/<id>` for an entity
/// that exists, or `...:AWSMarketplace/ChangeSet/<id>`.
fn resolve(world: &World, account: &Account, arn: &str) -> CatalogResult<(Resource, String)> {
    let well_formed = (1..=255).contains(&arn.len())
        && arn.starts_with("arn:")
        && arn.split(':').nth(2) == Some("aws-marketplace")
        && arn.split(':').count() == 6;
    if !well_formed {
        return Err(CatalogError::validation(format!(
            "ResourceArn {arn} is not a valid AWS Marketplace ARN."
        )));
    }
    let missing = || CatalogError::NotFound(format!("Resource {arn} not found."));
    let account_id = arn.split(':').nth(4).unwrap_or_default();
    let path = arn.split(':').nth(5).unwrap_or_default();
    let mut parts = path.split('/');
    let (Some("AWSMarketplace"), Some(kind), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(missing());
    };
    if account_id != account.seller_account_id {
        return Err(missing());
    }
    if kind == "ChangeSet" {
        return match world.catalog.change_sets.contains_key(id) {
            true => Ok((Resource::ChangeSet, arn.to_owned())),
            false => Err(missing()),
        };
    }
    // The entity must exist under exactly this ARN (its type segment included).
    let found = super::entity::describe(world, account, entity_id(id))
        .ok()
        .and_then(|view| {
            view.get("EntityArn")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|entity_arn| entity_arn == account.arn(kind, entity_id(id)));
    if found {
        Ok((Resource::Entity, arn.to_owned()))
    } else {
        Err(missing())
    }
}

fn tag_text_ok(text: &str, min: usize, max: usize) -> bool {
    let count = text.chars().count();
    (min..=max).contains(&count)
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// `TagResource`: adds or replaces tags.
pub fn tag(world: &mut World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body)?;
    let arn = text(map, "ResourceArn")?;
    let tags = field(map, "Tags")?
        .as_array()
        .ok_or_else(|| CatalogError::validation("Tags must be a list."))?;
    if tags.is_empty() || tags.len() > MAX_TAGS {
        return Err(CatalogError::validation(format!(
            "Tags must contain between 1 and {MAX_TAGS} tags."
        )));
    }
    let mut parsed = BTreeMap::new();
    for tag in tags {
        let tag = tag
            .as_object()
            .ok_or_else(|| CatalogError::validation("Each tag must be an object."))?;
        let key = text(tag, "Key")?;
        let value = text(tag, "Value")?;
        if !tag_text_ok(key, 1, 128) || !tag_text_ok(value, 0, 256) {
            return Err(CatalogError::validation(format!(
                "Tag {key}={value} is not valid."
            )));
        }
        parsed.insert(key.to_owned(), value.to_owned());
    }
    let (_, arn) = resolve(world, account, arn)?;
    let existing = world.catalog.tags.entry(arn).or_default();
    let merged = existing
        .keys()
        .chain(parsed.keys())
        .collect::<std::collections::BTreeSet<_>>();
    if merged.len() > MAX_TAGS {
        return Err(CatalogError::validation(format!(
            "A resource has at most {MAX_TAGS} tags."
        )));
    }
    existing.extend(parsed);
    Ok(json!({}))
}

/// `UntagResource`: removes tags by key (unknown keys are ignored).
pub fn untag(world: &mut World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body)?;
    let arn = text(map, "ResourceArn")?;
    let keys = field(map, "TagKeys")?
        .as_array()
        .ok_or_else(|| CatalogError::validation("TagKeys must be a list."))?;
    if keys.is_empty() || keys.len() > MAX_TAGS {
        return Err(CatalogError::validation(format!(
            "TagKeys must contain between 1 and {MAX_TAGS} keys."
        )));
    }
    let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
    let (_, arn) = resolve(world, account, arn)?;
    if let Some(tags) = world.catalog.tags.get_mut(&arn) {
        for key in keys {
            tags.remove(key);
        }
    }
    Ok(json!({}))
}

/// `ListTagsForResource`.
pub fn list_tags(world: &World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body)?;
    let arn = text(map, "ResourceArn")?;
    let (_, arn) = resolve(world, account, arn)?;
    let tags: Vec<Value> = world
        .catalog
        .tags
        .get(&arn)
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json!({ "ResourceArn": arn, "Tags": tags }))
}

fn entity_arn(world: &World, account: &Account, arn: &str) -> CatalogResult<String> {
    match resolve(world, account, arn)? {
        (Resource::Entity, arn) => Ok(arn),
        (Resource::ChangeSet, _) => Err(CatalogError::validation(
            "Resource policies apply to entities, not change sets.",
        )),
    }
}

/// `PutResourcePolicy`: stores the policy document (a JSON object) for an entity.
pub fn put_policy(world: &mut World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body)?;
    let arn = text(map, "ResourceArn")?;
    let policy = text(map, "Policy")?;
    if policy.is_empty() || policy.chars().count() > MAX_POLICY_CHARS {
        return Err(CatalogError::validation(format!(
            "Policy must be between 1 and {MAX_POLICY_CHARS} characters."
        )));
    }
    if !serde_json::from_str::<Value>(policy).is_ok_and(|v| v.is_object()) {
        return Err(CatalogError::validation(
            "Policy must be a JSON policy document.",
        ));
    }
    let arn = entity_arn(world, account, arn)?;
    world.catalog.policies.insert(arn, policy.to_owned());
    Ok(json!({}))
}

/// `GetResourcePolicy`: the stored policy; an entity without one is ResourceNotFound.
pub fn get_policy(world: &World, account: &Account, arn: &str) -> CatalogResult<Value> {
    let arn = entity_arn(world, account, arn)?;
    world
        .catalog
        .policies
        .get(&arn)
        .map(|policy| json!({ "Policy": policy }))
        .ok_or_else(|| CatalogError::NotFound(format!("No resource policy for {arn}.")))
}

/// `DeleteResourcePolicy`.
pub fn delete_policy(world: &mut World, account: &Account, arn: &str) -> CatalogResult<Value> {
    let arn = entity_arn(world, account, arn)?;
    match world.catalog.policies.remove(&arn) {
        Some(_) => Ok(json!({})),
        None => Err(CatalogError::NotFound(format!(
            "No resource policy for {arn}."
        ))),
    }
}
