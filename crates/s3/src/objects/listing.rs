//! Listing a bucket as S3 does: keys in UTF-8 byte order under a prefix, rolled up into common
//! prefixes at a delimiter, resumed after the last item a page returned. The catalog is read a
//! page at a time from an index, so a page costs the same in a bucket of ten keys or millions.

use super::catalog::{Catalog, ObjectRow};

/// What to list.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// At most this many keys and common prefixes together.
    pub max_keys: usize,
    /// Resume after this key or common prefix (exclusive).
    pub after: &'a str,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub objects: Vec<ObjectRow>,
    pub prefixes: Vec<String>,
    /// More keys or prefixes follow the page.
    pub truncated: bool,
    /// The last key or common prefix of the page: where the next page resumes.
    pub last: Option<String>,
}

/// The common prefix `key` rolls up into: the prefix, then everything up to and including the
/// first delimiter after it.
pub(crate) fn common_prefix<'k>(
    key: &'k str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Option<&'k str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}

/// A string after every key that starts with `prefix` but those continuing with U+10FFFF
/// itself, which the listing skips explicitly.
fn past(prefix: &str) -> String {
    let mut seek = String::with_capacity(prefix.len() + 4);
    seek.push_str(prefix);
    seek.push(char::MAX);
    seek
}

/// Rows read from the catalog per query.
const BATCH: usize = 1000;

/// Lists one page of `bucket`.
pub(crate) async fn list(
    catalog: &Catalog,
    bucket: &str,
    query: &ListQuery<'_>,
) -> Result<Page, sqlx::Error> {
    let mut page = Page::default();
    if query.max_keys == 0 {
        return Ok(page);
    }
    // Resuming after a common prefix skips every key under it.
    let mut skip = common_prefix(query.after, query.prefix, query.delimiter)
        .filter(|cp| *cp == query.after)
        .map(str::to_owned);
    let mut cursor = match &skip {
        Some(cp) => past(cp),
        None => query.after.to_owned(),
    };
    loop {
        // Only as many rows as the page still needs, plus the one that tells it is truncated:
        // reading a whole batch past a full page would double the work of a 1,000-key page.
        let listed = page.objects.len() + page.prefixes.len();
        let needed = (query.max_keys + 1).saturating_sub(listed).min(BATCH);
        let batch = u32::try_from(needed).unwrap_or(1);
        let rows = catalog
            .objects_after(bucket, &cursor, query.prefix, batch)
            .await?;
        let exhausted = rows.len() < batch as usize;
        let mut seek = None;
        for row in rows {
            if !row.key.starts_with(query.prefix) {
                return Ok(page);
            }
            cursor.clone_from(&row.key);
            if skip.as_deref().is_some_and(|cp| row.key.starts_with(cp)) {
                continue;
            }
            if page.objects.len() + page.prefixes.len() == query.max_keys {
                page.truncated = true;
                return Ok(page);
            }
            match common_prefix(&row.key, query.prefix, query.delimiter) {
                Some(cp) => {
                    let cp = cp.to_owned();
                    page.prefixes.push(cp.clone());
                    page.last = Some(cp.clone());
                    seek = Some(past(&cp));
                    skip = Some(cp);
                    break;
                }
                None => {
                    page.last = Some(row.key.clone());
                    page.objects.push(row);
                }
            }
        }
        match seek {
            Some(seek) => cursor = seek,
            None if exhausted => return Ok(page),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a listing must return: every key under the prefix in byte order, each rolled into
    /// its common prefix, each common prefix once where its first key stands.
    fn model(
        keys: &std::collections::BTreeSet<String>,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Vec<String> {
        let mut entries: Vec<String> = Vec::new();
        for key in keys.iter().filter(|k| k.starts_with(prefix)) {
            let entry = common_prefix(key, prefix, delimiter)
                .unwrap_or(key)
                .to_owned();
            if entries.last() != Some(&entry) {
                entries.push(entry);
            }
        }
        entries
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn pages_concatenate_to_the_model_listing(
            keys in proptest::collection::btree_set("[ab./]{1,6}", 0..40),
            prefix in "[ab./]{0,2}",
            delimiter in proptest::option::of("[/.]|//"),
            max_keys in 1_usize..6,
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let listed = runtime.block_on(async {
                let catalog = Catalog::open(&dir.path().join("catalog.db")).await.unwrap();
                catalog.create_bucket("b", 0).await.unwrap();
                for key in &keys {
                    let row = ObjectRow {
                        bucket: "b".into(), key: key.clone(), blob: "0".repeat(32), size: 0,
                        etag: String::new(), modified: 0, attrs: "{}".into(),
                    };
                    catalog.put_object(&row, super::super::catalog::Precondition::Always).await.unwrap();
                }
                let mut listed = Vec::new();
                let mut after = String::new();
                loop {
                    let query = ListQuery { prefix: &prefix, delimiter: delimiter.as_deref(), max_keys, after: &after };
                    let page = list(&catalog, "b", &query).await.unwrap();
                    let count = page.objects.len() + page.prefixes.len();
                    assert!(count <= max_keys);
                    // Keys and prefixes of one page, in order.
                    let mut entries: Vec<String> = page.objects.iter().map(|o| o.key.clone()).chain(page.prefixes.iter().cloned()).collect();
                    entries.sort();
                    listed.extend(entries);
                    if !page.truncated {
                        break;
                    }
                    assert_eq!(count, max_keys);
                    after = page.last.unwrap();
                }
                listed
            });
            prop_assert_eq!(listed, model(&keys, &prefix, delimiter.as_deref()));
        }
    }

    #[test]
    fn common_prefixes_end_at_the_first_delimiter_after_the_prefix() {
        assert_eq!(common_prefix("a/b/c", "", Some("/")), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", Some("/")), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/b", Some("/")), None);
        assert_eq!(common_prefix("a/b", "x", Some("/")), None);
        assert_eq!(common_prefix("a--b--c", "", Some("--")), Some("a--"));
        assert_eq!(common_prefix("a/b", "", None), None);
        assert_eq!(common_prefix("a/b", "", Some("")), None);
    }
}
