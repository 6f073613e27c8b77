//! One kube watcher per target, or one shared by the named targets of a
//! type and namespace (run/ merges them into one stream of `(target index,
//! event)`). The watcher re-lists on 410 and backs off on errors.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ApiResource, WatchParams};
use kube::core::{DynamicResourceScope, Resource};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::expr::Expr;
use crate::target::{Selection, Target};
use crate::tracker::WatchEvent;

/// A watch event (or error) for the target of this index.
pub type Item = (usize, Result<WatchEvent, watcher::Error>);

/// One target's events. With `from` (a checkpoint's resourceVersion), one
/// watch from there first replays every change since, even of objects
/// created and deleted meanwhile; when it ends — at once on 410, when the
/// server has no such history — kube's watcher takes over, whose list the
/// tracker compares with what it knew.
pub fn watch_from(
    client: &Client,
    target: &Target,
    from: Option<String>,
) -> BoxStream<'static, Result<WatchEvent, watcher::Error>> {
    let resource = ApiResource::from(&target.api);
    let api: Api<RawObject> = match &target.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let (labels, fields) = target.selection.selectors();
    let mut config = watcher::Config::default();
    if let Some(labels) = &labels {
        config = config.labels(labels);
    }
    if let Some(fields) = &fields {
        config = config.fields(fields);
    }
    let types = (resource.api_version.clone(), resource.kind.clone());
    let watching = {
        let types = types.clone();
        streaming_or_paged(api.clone(), config).map(move |event| event.map(|e| strip(e, &types)))
    };
    let Some(from) = from else {
        return watching.boxed();
    };
    let params = WatchParams {
        label_selector: labels,
        field_selector: fields,
        bookmarks: true,
        ..WatchParams::default()
    };
    replay(api, params, from, types).chain(watching).boxed()
}

/// The HTTP status the server answered with, if it answered.
pub fn status_code(err: &watcher::Error) -> Option<u16> {
    use watcher::Error;
    match err {
        Error::InitialListFailed(kube::Error::Api(status))
        | Error::WatchStartFailed(kube::Error::Api(status))
        | Error::WatchFailed(kube::Error::Api(status))
        | Error::WatchError(status) => Some(status.code),
        _ => None,
    }
}

/// kube's watcher, whose first list is a streaming list when the server
/// serves them: one watch sends every object, then a bookmark marking the
/// list's end (`sendInitialEvents`), so no page of 500 objects is held at
/// once and no second request starts the watch. A server refuses it with
/// 422 when its WatchList feature is off, and with an ERROR event (500) on
/// etcd older than 3.4.31/3.5.13 (no watch progress): on any error before
/// that first list ends, as client-go does, this stream goes on with
/// paginated list + watch — the refusal is not the user's trouble, and an
/// error that is (403, a server down) comes back from the list. If the
/// refused stream had listed objects, the new watcher's `Relisting` makes
/// the tracker drop them; if it had only said the list starts (the ERROR
/// comes after 200 OK), that start is not said twice. A re-list after the
/// first (410) streams again.
fn streaming_or_paged(
    api: Api<RawObject>,
    config: watcher::Config,
) -> BoxStream<'static, WatcherItem> {
    let streaming = watcher(api.clone(), config.clone().streaming_lists())
        .default_backoff()
        .boxed();
    let paged = move || watcher(api, config).default_backoff().boxed();
    let start = Start::Streaming(streaming, paged, Told::Nothing);
    futures::stream::unfold(start, |start| async move {
        match start {
            Start::Streaming(mut streaming, paged, told) => match streaming.next().await {
                Some(Err(_refused)) => {
                    let mut paged = paged();
                    let mut item = paged.next().await?;
                    if told == Told::Start && matches!(item, Ok(watcher::Event::Init)) {
                        item = paged.next().await?;
                    }
                    Some((item, Start::Listed(paged)))
                }
                Some(Ok(event)) => {
                    let next = match (&event, told) {
                        (watcher::Event::InitDone, _) => Start::Listed(streaming),
                        (watcher::Event::Init, Told::Nothing) => {
                            Start::Streaming(streaming, paged, Told::Start)
                        }
                        (watcher::Event::InitApply(_), _) => {
                            Start::Streaming(streaming, paged, Told::Objects)
                        }
                        _ => Start::Streaming(streaming, paged, told),
                    };
                    Some((Ok(event), next))
                }
                None => None,
            },
            Start::Listed(mut watching) => {
                let item = watching.next().await?;
                Some((item, Start::Listed(watching)))
            }
        }
    })
    .boxed()
}

/// Where [`streaming_or_paged`] stands: still in its first streaming list
/// (with the paged watcher to fall back on, and what it has said so far),
/// or past it.
enum Start<F> {
    Streaming(BoxStream<'static, WatcherItem>, F, Told),
    Listed(BoxStream<'static, WatcherItem>),
}

/// What the streaming list has passed on before it ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Told {
    Nothing,
    /// That a list starts.
    Start,
    /// Listed objects.
    Objects,
}

type WatcherItem = Result<watcher::Event<RawObject>, watcher::Error>;

/// One watch of every object of `target`'s type in its namespace, shared by
/// named targets of that type and namespace: each event goes to the target
/// of its object's name (`members`: name → target index), a list's start and
/// end to all of them, an error to the first (all share its outage). When
/// that list is forbidden (403: a Role granting by `resourceNames`), each
/// member gets its own watch by name instead, as a named target has.
pub fn watch_shared(
    client: &Client,
    target: &Target,
    members: std::collections::HashMap<String, usize>,
    from: Option<String>,
) -> BoxStream<'static, Item> {
    let shared = Target {
        selection: Selection::Query {
            labels: None,
            fields: None,
        },
        ..target.clone()
    };
    let mut watching = watch_from(client, &shared, from);
    let (client, target) = (client.clone(), target.clone());
    futures::stream::once(async move {
        // The watcher says a list starts before it asks for it.
        let mut seen = Vec::new();
        while let Some(item) = watching.next().await {
            let starting = matches!(item, Ok(WatchEvent::Relisting));
            seen.push(item);
            if !starting {
                break;
            }
        }
        match seen.last() {
            Some(Err(e)) if forbidden(e) => by_name(&client, &target, &members),
            _ => routed(futures::stream::iter(seen).chain(watching).boxed(), members),
        }
    })
    .flatten()
    .boxed()
}

/// The server refused the request (403 Forbidden).
fn forbidden(err: &watcher::Error) -> bool {
    matches!(
        err,
        watcher::Error::InitialListFailed(kube::Error::Api(status))
            | watcher::Error::WatchStartFailed(kube::Error::Api(status))
            if status.code == 403
    )
}

/// One watch per member, by `metadata.name`, merged.
fn by_name(
    client: &Client,
    target: &Target,
    members: &std::collections::HashMap<String, usize>,
) -> BoxStream<'static, Item> {
    let watches = members.iter().map(|(name, &index)| {
        let named = Target {
            selection: Selection::Name(name.clone()),
            ..target.clone()
        };
        watch_from(client, &named, None)
            .map(move |item| (index, item))
            .boxed()
    });
    futures::stream::select_all(watches).boxed()
}

/// The shared watch's events, each to its member (see [`watch_shared`]).
fn routed(
    watching: BoxStream<'static, Result<WatchEvent, watcher::Error>>,
    members: std::collections::HashMap<String, usize>,
) -> BoxStream<'static, Item> {
    let first = members.values().copied().min().unwrap_or_default();
    let mut all: Vec<usize> = members.values().copied().collect();
    all.sort_unstable();
    watching
        .flat_map(move |item| {
            let to_all = |event: WatchEvent| -> Vec<Item> {
                all.iter().map(|&i| (i, Ok(event.clone()))).collect()
            };
            let routed: Vec<Item> = match item {
                Err(e) => vec![(first, Err(e))],
                Ok(event) => {
                    // `None`: a list's start or end, for every member.
                    let member = match &event {
                        WatchEvent::Listed(o) | WatchEvent::Applied(o) | WatchEvent::Deleted(o) => {
                            Some(o["metadata"]["name"].as_str().and_then(|n| members.get(n)))
                        }
                        WatchEvent::Relisting | WatchEvent::ListDone => None,
                    };
                    match member {
                        None => to_all(event),
                        Some(Some(&index)) => vec![(index, Ok(event))],
                        Some(None) => Vec::new(),
                    }
                }
            };
            futures::stream::iter(routed)
        })
        .boxed()
}

/// One watch from a resourceVersion, ended by its first error. Not a loop:
/// what comes after it is the watcher's.
fn replay(
    api: Api<RawObject>,
    params: WatchParams,
    from: String,
    types: (String, String),
) -> impl futures::Stream<Item = Result<WatchEvent, watcher::Error>> {
    use kube::api::WatchEvent as Raw;
    futures::stream::once(async move { api.watch(&params, &from).await })
        .flat_map(move |started| {
            let types = types.clone();
            match started {
                Ok(stream) => stream
                    .filter_map(move |event| {
                        std::future::ready(match event {
                            Ok(Raw::Added(o) | Raw::Modified(o)) => {
                                Some(Ok(strip(watcher::Event::Apply(o), &types)))
                            }
                            Ok(Raw::Deleted(o)) => {
                                Some(Ok(strip(watcher::Event::Delete(o), &types)))
                            }
                            Ok(Raw::Bookmark(_)) => None,
                            Ok(Raw::Error(status)) => Some(Err(watcher::Error::WatchError(status))),
                            Err(err) => Some(Err(watcher::Error::WatchFailed(err))),
                        })
                    })
                    .boxed(),
                Err(err) => futures::stream::once(std::future::ready(Err(
                    watcher::Error::WatchStartFailed(err),
                )))
                .boxed(),
            }
        })
        .scan(false, |ended, event| {
            if *ended {
                return std::future::ready(None);
            }
            *ended = event.is_err();
            std::future::ready(Some(event))
        })
}

/// An object exactly as the server sent it. The watcher only needs the
/// identity and resourceVersion from its metadata, so those are read out and
/// the rest stays one `Value`: no typed copy, no re-serialisation per event.
#[derive(Clone, Debug)]
pub struct RawObject {
    value: Value,
    meta: ObjectMeta,
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Projection::current().deserialize(deserializer)?;
        // The watcher reads only the resourceVersion (and the name, in its
        // logs): no other copies of the identity.
        let metadata = &value["metadata"];
        let text = |field: &str| metadata[field].as_str().map(String::from);
        let meta = ObjectMeta {
            name: text("name"),
            resource_version: text("resourceVersion"),
            ..ObjectMeta::default()
        };
        Ok(RawObject { value, meta })
    }
}

/// Which parts of each object the run reads. Notify mode without a command,
/// a diff or JSON output reads only the identity and what the paths of
/// `--when` and `--on-change` reach: below their leading keys (`.spec.i`:
/// `spec`, then `i`), every other field, and `metadata.managedFields`, is
/// skipped while parsing and never built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    Full,
    /// The fields kept besides `apiVersion`, `kind` and `metadata`'s
    /// identity (`metadata` itself, when read, is kept whole but for its
    /// managedFields).
    Fields(Keys),
}

/// The keys kept at one level of an object, each with what is kept below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys(BTreeMap<String, Below>);

/// What is kept below a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Below {
    /// The whole value: a path may read anything under it.
    Whole,
    /// Only these keys, if the value is an object (any other value is kept).
    Keys(Keys),
}

impl Keys {
    /// Keeps what a path with these leading keys may read.
    fn add(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        // `metadata` is kept whole (but for managedFields) when read at all.
        if rest.is_empty() || first == "metadata" {
            self.0.insert(first.clone(), Below::Whole);
            return;
        }
        let below = self
            .0
            .entry(first.clone())
            .or_insert_with(|| Below::Keys(Keys::default()));
        if let Below::Keys(keys) = below {
            keys.add(rest);
        }
    }

    fn get(&self, key: &str) -> Option<&Below> {
        self.0.get(key)
    }

    /// Keeps also what `other` keeps.
    fn merge(&mut self, other: &Keys) {
        for (key, theirs) in &other.0 {
            match (self.0.get_mut(key), theirs) {
                (None, _) => {
                    self.0.insert(key.clone(), theirs.clone());
                }
                (Some(mine), Below::Whole) => *mine = Below::Whole,
                (Some(Below::Whole), Below::Keys(_)) => {}
                (Some(Below::Keys(mine)), Below::Keys(theirs)) => mine.merge(theirs),
            }
        }
    }

    /// The top-level fields kept, in order.
    #[cfg(test)]
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The same keys, for the client's body to cut what is not kept out of
    /// each event before parsing.
    fn to_cut(&self) -> crate::managed_fields::Fields {
        let below = |below: &Below| match below {
            Below::Whole => None,
            Below::Keys(keys) => Some(keys.to_cut()),
        };
        let kept = self.0.iter().map(|(key, b)| (key.clone(), below(b)));
        crate::managed_fields::Fields(kept.collect())
    }
}

/// Set before the first watch starts, widened when a reload of `--rules`
/// starts rules that read more (the client library gives deserialisation no
/// other way in). `None`: everything.
static PROJECTION: RwLock<Option<Arc<Projection>>> = RwLock::new(None);

impl Projection {
    /// What the given expressions read; `Full` if any of them may read any
    /// part of the object (see `Expr::key_prefixes`).
    pub fn reading<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Projection {
        let mut keys = Keys::default();
        for expr in exprs {
            let Some(prefixes) = expr.key_prefixes() else {
                return Projection::Full;
            };
            for prefix in prefixes {
                keys.add(prefix);
            }
        }
        Projection::Fields(keys)
    }

    /// Every object parsed from now on keeps at least what this keeps: the
    /// first call sets the projection, later ones (rules a reload starts,
    /// before their watches) widen it to what both keep. Never narrowed:
    /// rules running keep what they read.
    pub fn install(self) {
        let Ok(mut installed) = PROJECTION.write() else {
            return;
        };
        let projection = match installed.as_deref() {
            Some(before) => before.union(&self),
            None => self,
        };
        // Only `Full` keeps managedFields: then nothing cuts them earlier.
        // The top-level fields it skips are cut out of watch events as well.
        crate::managed_fields::keep_only(match &projection {
            Projection::Fields(keys) => Some(keys.to_cut()),
            Projection::Full => None,
        });
        crate::managed_fields::cut_from_now_on(projection != Projection::Full);
        *installed = Some(Arc::new(projection));
    }

    /// The projection of objects parsed now (`Full` until one is installed).
    fn current() -> Arc<Projection> {
        let installed = PROJECTION.read().ok().and_then(|p| p.clone());
        installed.unwrap_or_else(|| Arc::new(Projection::Full))
    }

    /// What keeps everything either keeps.
    fn union(&self, other: &Projection) -> Projection {
        match (self, other) {
            (Projection::Fields(mine), Projection::Fields(theirs)) => {
                let mut keys = mine.clone();
                keys.merge(theirs);
                Projection::Fields(keys)
            }
            _ => Projection::Full,
        }
    }

    /// Whether an expression reads `metadata` (the identity is always kept).
    fn keeps_all_metadata(&self) -> bool {
        match self {
            Projection::Full => true,
            Projection::Fields(keys) => keys.get("metadata").is_some(),
        }
    }
}

impl<'de> DeserializeSeed<'de> for &Projection {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Projection::Full => Value::deserialize(deserializer),
            Projection::Fields(keys) => deserializer.deserialize_map(Kept {
                keys,
                whole_metadata: self.keeps_all_metadata(),
            }),
        }
    }
}

/// Builds an object of the fields a projection keeps, skipping the others
/// unparsed, and `metadata` without its managedFields.
struct Kept<'p> {
    keys: &'p Keys,
    whole_metadata: bool,
}

impl<'de> Visitor<'de> for Kept<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = serde_json::Map::new();
        while let Some(Key(field)) = map.next_key()? {
            let value = match (&*field, self.keys.get(&field)) {
                ("metadata", _) => map.next_value_seed(Metadata {
                    whole: self.whole_metadata,
                })?,
                ("apiVersion" | "kind", _) | (_, Some(Below::Whole)) => map.next_value()?,
                (_, Some(Below::Keys(below))) => map.next_value_seed(Pick(below))?,
                (_, None) => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            kept.insert(field.into_owned(), value);
        }
        Ok(Value::Object(kept))
    }
}

/// A value of which only some keys are kept, if it is an object; any other
/// value is built whole (a path reads the same of it either way).
struct Pick<'k>(&'k Keys);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = serde_json::Map::new();
        while let Some(Key(field)) = map.next_key()? {
            let value = match self.0.get(&field) {
                Some(Below::Whole) => map.next_value()?,
                Some(Below::Keys(below)) => map.next_value_seed(Pick(below))?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            kept.insert(field.into_owned(), value);
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A field name, borrowed from the input unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_string())))
    }
}

/// `metadata` without `managedFields` (often the bulk of an object) when an
/// expression reads it, else only the identity the lines and the tracker
/// read: labels, annotations and the rest are skipped unbuilt.
struct Metadata {
    whole: bool,
}

impl Metadata {
    fn keeps(&self, field: &str) -> bool {
        if self.whole {
            field != "managedFields"
        } else {
            matches!(field, "name" | "namespace" | "uid" | "resourceVersion")
        }
    }
}

impl<'de> DeserializeSeed<'de> for Metadata {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Metadata {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = serde_json::Map::new();
        while let Some(Key(field)) = map.next_key()? {
            if self.keeps(&field) {
                kept.insert(field.into_owned(), map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

impl Resource for RawObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

/// The client types off, and `apiVersion`/`kind` filled in: list items of
/// built-in types arrive without them, and expressions may read them.
fn strip(event: watcher::Event<RawObject>, (api_version, kind): &(String, String)) -> WatchEvent {
    let value = |object: RawObject| {
        let mut value = object.value;
        if let Some(map) = value.as_object_mut() {
            if !map.contains_key("apiVersion") {
                map.insert("apiVersion".into(), api_version.as_str().into());
            }
            if !map.contains_key("kind") {
                map.insert("kind".into(), kind.as_str().into());
            }
        }
        value
    };
    match event {
        watcher::Event::Init => WatchEvent::Relisting,
        watcher::Event::InitApply(o) => WatchEvent::Listed(value(o).into()),
        watcher::Event::InitDone => WatchEvent::ListDone,
        watcher::Event::Apply(o) => WatchEvent::Applied(value(o).into()),
        watcher::Event::Delete(o) => WatchEvent::Deleted(value(o).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(projection: &Projection, object: &Value) -> Value {
        let text = object.to_string();
        projection
            .deserialize(&mut serde_json::Deserializer::from_str(&text))
            .unwrap()
    }

    /// The event `line` cut before parsing for the paths of `set`, and the
    /// whole event, each as the projection parses its object; `None` if
    /// nothing was cut.
    fn cut_and_whole(line: &[u8], set: &[&str]) -> Option<(Value, Value)> {
        let exprs: Vec<Expr> = set.iter().map(|e| Expr::parse(e).unwrap()).collect();
        let projection = Projection::reading(&exprs);
        let Projection::Fields(keys) = &projection else {
            panic!("{set:?} reads every field");
        };
        let cut = crate::managed_fields::from_event_keeping(line, &keys.to_cut())?;
        let cut: Value = serde_json::from_slice(&cut).unwrap();
        let whole: Value = serde_json::from_slice(line).unwrap();
        Some((
            parse(&projection, &cut["object"]),
            parse(&projection, &whole["object"]),
        ))
    }

    /// What the client's body leaves of an event before parsing changes
    /// nothing the projection builds.
    #[test]
    fn an_object_cut_before_parsing_parses_as_the_whole_one() {
        let sets: [&[&str]; 8] = [
            &[".spec.size"],
            &[".spec.template.x", ".spec.size"],
            &[".spec.template.y.z", ".spec.template.x.no", ".status.ready"],
            &[".status.ready", ".spec.ports[0].port"],
            &[".metadata.labels.app"],
            &[".kind"],
            &[
                ".metadata.name",
                ".status.conditions[?@.type=='Ready'].status",
            ],
            &[],
        ];
        let line = json!({"type": "MODIFIED", "object": widget()}).to_string();
        for set in sets {
            let (cut, whole) = cut_and_whole(line.as_bytes(), set).expect("managedFields left out");
            assert_eq!(cut, whole, "{set:?}");
        }
    }

    /// What a real kube-apiserver 1.32 sent (kept beside the test server:
    /// its watch events as they came, its controller-made Deployments,
    /// ReplicaSets and Pods, applied objects as it printed them, each made
    /// a watch event around its own text): each event cut below the paths'
    /// leading keys parses, under the projection, to what the whole event
    /// does.
    #[test]
    fn real_server_events_cut_before_parsing_parse_as_the_whole_ones() {
        let sets: [&[&str]; 6] = [
            &[".spec.replicas"],
            &[".status.conditions[?@.type=='Available'].status == 'True'"],
            &[
                ".spec.template.spec.containers[0].image",
                ".status.readyReplicas >= 1",
            ],
            &[".spec.containers[0].resources.limits", ".status.phase"],
            &[".metadata.labels.app", ".spec.selector.matchLabels"],
            &[".spec.size", ".spec.v", ".status"],
        ];
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testserver/tests/k8s-reference");
        let mut events: Vec<Vec<u8>> = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(text) = std::fs::read(&path) else {
                continue;
            };
            match path.extension().and_then(|e| e.to_str()) {
                Some("jsonl") => events.extend(
                    text.split(|b| *b == b'\n')
                        .filter(|l| !l.is_empty())
                        .map(<[u8]>::to_vec),
                ),
                Some("json") => {
                    let Ok(object) = serde_json::from_slice::<Value>(&text) else {
                        continue;
                    };
                    let wrap = |object: &[u8]| {
                        [&b"{\"type\":\"MODIFIED\",\"object\":"[..], object, b"}"].concat()
                    };
                    match object["items"].as_array() {
                        Some(items) => events.extend(
                            items
                                .iter()
                                .map(|item| wrap(&serde_json::to_vec(item).unwrap())),
                        ),
                        None if object.get("metadata").is_some() => events.push(wrap(&text)),
                        None => {}
                    }
                }
                _ => {}
            }
        }
        let mut cut_events = 0;
        for line in &events {
            for set in sets {
                let Some((cut, whole)) = cut_and_whole(line, set) else {
                    continue;
                };
                assert_eq!(cut, whole, "{set:?} of {}", String::from_utf8_lossy(line));
                cut_events += 1;
            }
        }
        assert!(cut_events >= 200, "{cut_events} events cut");
    }

    fn widget() -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "a", "uid": "1", "resourceVersion": "7", "labels": {"app": "x"},
                            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
               "spec": {"size": 3, "ports": [{"port": 80}],
                        "template": {"x": 1, "y": {"z": 2, "w": [3]}, "v": {"x": 4}}},
               "status": {"ready": true, "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    #[test]
    fn the_fields_read_are_the_first_steps_of_the_paths() {
        let fields = |exprs: &[&str]| {
            let exprs: Vec<Expr> = exprs.iter().map(|e| Expr::parse(e).unwrap()).collect();
            match Projection::reading(&exprs) {
                Projection::Fields(keys) => {
                    Some(keys.fields().map(String::from).collect::<Vec<_>>())
                }
                Projection::Full => None,
            }
        };
        assert_eq!(
            fields(&[
                ".status.ready",
                "$.spec['x.y']",
                ".status.conditions[?@.type=='Ready']"
            ]),
            Some(vec!["spec".to_string(), "status".to_string()])
        );
        assert_eq!(
            fields(&[".['status'] == True && .metadata.name =~ '^web'"]),
            Some(vec!["metadata".to_string(), "status".to_string()])
        );
        assert_eq!(fields(&[]), Some(vec![]));
        for whole in [
            "..ready",
            ".*",
            ".spec[?@.x == $.status.y]",
            ".metadata.managedFields",
        ] {
            assert_eq!(fields(&[whole]), None, "{whole}");
        }
    }

    #[test]
    fn a_projection_keeps_identity_and_the_fields_read_and_nothing_else() {
        let projection = Projection::reading(&[Expr::parse(".status.ready").unwrap()]);
        assert_eq!(
            parse(&projection, &widget()),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "a", "uid": "1", "resourceVersion": "7"},
                   "status": {"ready": true}})
        );
        assert_eq!(parse(&Projection::Full, &widget()), widget());
    }

    #[test]
    fn a_projection_keeps_what_is_below_each_path_s_leading_keys() {
        let exprs = [
            ".spec.size > 1",
            ".status.conditions[?@.type=='Ready'].status == True",
        ]
        .map(|e| Expr::parse(e).unwrap());
        assert_eq!(
            parse(&Projection::reading(&exprs), &widget()),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "a", "uid": "1", "resourceVersion": "7"},
                   "spec": {"size": 3},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        );
        // A shorter path reads all that a longer one under it does.
        let exprs = [".spec.ports[0].port", ".spec"].map(|e| Expr::parse(e).unwrap());
        assert_eq!(
            parse(&Projection::reading(&exprs), &widget())["spec"],
            widget()["spec"]
        );
        // A value that is not an object where keys are looked for is kept.
        let mut odd = widget();
        odd["spec"] = json!([{"size": 1}, 2.5, null, "x"]);
        let projection = Projection::reading(&[Expr::parse(".spec.size").unwrap()]);
        assert_eq!(parse(&projection, &odd)["spec"], odd["spec"]);
    }

    /// Whatever is dropped, every expression reads the same of a projected
    /// object as of the whole one.
    #[test]
    fn expressions_read_the_same_of_a_projected_object() {
        let objects = [
            widget(),
            json!({"apiVersion": "v1", "kind": "Widget",
                   "metadata": {"name": "b", "uid": "2", "resourceVersion": "8"},
                   "spec": {"size": "3", "i": 7, "ports": {"port": 80}, "x.y": [1, 2]},
                   "status": [true]}),
            json!({"metadata": {"name": "c"}, "spec": null, "status": {"ready": {"nested": 1}}}),
        ];
        for src in [
            ".spec.i",
            ".spec.size > 1",
            ".spec.ports.port == 80",
            ".spec.ports[0].port",
            ".spec['x.y'][1] == 2",
            ".status.ready",
            ".status.ready.nested == 1",
            ".status.conditions[?@.type=='Ready'].status == True",
            ".spec.ports[?@.port > 10].name",
            ".status[0] == true",
            ".metadata.name =~ '^[ab]' && .spec.size",
            "!.status.ready || .spec.i >= 7",
        ] {
            let expr = Expr::parse(src).unwrap();
            let projection = Projection::reading([&expr]);
            assert!(matches!(projection, Projection::Fields(_)), "{src}");
            for object in &objects {
                let projected = parse(&projection, object);
                assert_eq!(
                    expr.eval(&projected),
                    expr.eval(object),
                    "{src} on {object}"
                );
                assert_eq!(
                    expr.path_values(&projected),
                    expr.path_values(object),
                    "{src} on {object}"
                );
            }
        }
    }

    /// Rules a reload adds read what they read, and the rules running too.
    #[test]
    fn a_union_keeps_what_either_keeps() {
        let reading = |srcs: &[&str]| {
            let exprs: Vec<Expr> = srcs.iter().map(|e| Expr::parse(e).unwrap()).collect();
            Projection::reading(&exprs)
        };
        let pairs = [
            (vec![".spec.size"], vec![".status.ready"]),
            (vec![".spec.size"], vec![".spec.ports[0].port"]),
            (vec![".spec"], vec![".spec.size"]),
            (vec![".spec.size"], vec![".spec"]),
            (vec![".metadata.labels.app"], vec![".status.conditions[0]"]),
            (vec![], vec![".spec.size"]),
        ];
        for (a, b) in pairs {
            let both: Vec<&str> = a.iter().chain(&b).copied().collect();
            assert_eq!(
                reading(&a).union(&reading(&b)),
                reading(&both),
                "{a:?} {b:?}"
            );
            assert_eq!(
                parse(&reading(&a).union(&reading(&b)), &widget()),
                parse(&reading(&both), &widget())
            );
        }
        assert_eq!(
            reading(&[".spec"]).union(&Projection::Full),
            Projection::Full
        );
        assert_eq!(
            Projection::Full.union(&reading(&[".spec"])),
            Projection::Full
        );
    }

    #[test]
    fn an_expression_on_metadata_keeps_all_of_it_but_managed_fields() {
        let projection = Projection::reading(&[Expr::parse(".metadata.labels.app").unwrap()]);
        assert_eq!(
            parse(&projection, &widget()),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "a", "uid": "1", "resourceVersion": "7", "labels": {"app": "x"}}})
        );
    }

    #[test]
    fn a_parsed_object_tells_the_watcher_its_resource_version() {
        let object: RawObject = serde_json::from_value(widget()).unwrap();
        assert_eq!(object.meta.resource_version.as_deref(), Some("7"));
        assert_eq!(object.meta.name.as_deref(), Some("a"));
        assert_eq!(object.value, widget());
    }
}
