//! Maps a key path such as `pool.0.max` back to its place in the source, so
//! semantic errors found after deserialising (min > max, duplicate names)
//! point at the line a user has to edit.

use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::Location;

/// The location of the value at `keys` (array indices as decimal strings);
/// falls back to the deepest part of the path that exists, then the file.
pub fn key_location(file: &Path, source: &str, keys: &[&str]) -> Location {
    let Ok(root) = DeTable::parse(source) else {
        return Location::file(file);
    };
    locate_in(root.get_ref(), file, source, keys)
}

/// Where each of the file's first `count` `[[pool]]` tables writes its
/// `name` (as [`key_location`] finds `pool.<i>.name`), parsing the file
/// once: a file of many pools is not parsed again for each.
pub fn pool_name_locations(file: &Path, source: &str, count: usize) -> Vec<Location> {
    let Ok(root) = DeTable::parse(source) else {
        return vec![Location::file(file); count];
    };
    (0..count)
        .map(|i| {
            let index = i.to_string();
            locate_in(root.get_ref(), file, source, &["pool", &index, "name"])
        })
        .collect()
}

/// [`key_location`] in a parsed `root`.
fn locate_in(root: &DeTable<'_>, file: &Path, source: &str, keys: &[&str]) -> Location {
    let mut best: Option<usize> = None;
    let mut table: Option<&DeTable<'_>> = Some(root);
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for key in keys {
        let next = if let Some(t) = table.take() {
            t.iter()
                .find(|(k, _)| k.get_ref().as_ref() == *key)
                .map(|(k, v)| (k.span().start, v))
        } else if let Some(a) = array.take() {
            key.parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .map(|v| (v.span().start, v))
        } else {
            None
        };
        let Some((start, value)) = next else { break };
        best = Some(start);
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a.as_ref()),
            _ => {}
        }
    }
    match best {
        Some(offset) => Location::at(file, source, offset),
        None => Location::file(file),
    }
}

/// The dotted key path (array indices as decimal strings) of the deepest
/// key or value whose source span contains byte `offset`: names the key a
/// parse error (bad duration, unknown field, wrong type) is about.
pub fn key_at(source: &str, offset: usize) -> Vec<String> {
    let mut path = Vec::new();
    if let Ok(root) = DeTable::parse(source) {
        walk_table(root.get_ref(), offset, &mut path);
    }
    path
}

fn walk_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (k, v) in table.iter() {
        if k.span().contains(&offset) {
            path.push(k.get_ref().to_string());
            return true;
        }
        path.push(k.get_ref().to_string());
        if walk_value(v, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_value(v: &toml::Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<String>) -> bool {
    match v.get_ref() {
        // Tables declared with a header may have a span that covers only
        // the header, so descend whatever the span says.
        DeValue::Table(t) => walk_table(t, offset, path) || v.span().contains(&offset),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                path.push(i.to_string());
                if walk_value(item, offset, path) {
                    return true;
                }
                path.pop();
            }
            v.span().contains(&offset)
        }
        _ => v.span().contains(&offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_key_in_array_of_tables() {
        let src = "[[pool]]\nname = \"a\"\n\n[[pool]]\nname = \"b\"\nmax = 3\n";
        let loc = key_location(Path::new("p.toml"), src, &["pool", "1", "max"]);
        assert_eq!((loc.line, loc.column), (6, 1));
    }

    #[test]
    fn falls_back_to_deepest_existing_key() {
        let src = "[[pool]]\nname = \"a\"\n";
        let loc = key_location(Path::new("p.toml"), src, &["pool", "0", "missing"]);
        assert_eq!(loc.line, 1);
    }

    #[test]
    fn names_the_key_at_an_offset() {
        let src = "[[pool]]\nname = \"a\"\n[pool.scaling]\ncooldown = \"soon\"\n\n[[pool]]\nname = \"b\"\nbogus = 1\n";
        let at = |needle: &str| key_at(src, src.find(needle).unwrap());
        assert_eq!(at("\"soon\""), ["pool", "0", "scaling", "cooldown"]);
        assert_eq!(at("bogus"), ["pool", "1", "bogus"]);
        assert_eq!(at("\"b\""), ["pool", "1", "name"]);
    }

    #[test]
    fn every_pool_name_located_in_one_parse_as_one_by_one() {
        let src = "[[pool]]\nname = \"a\"\n\n[[pool]]\nmax = 1\nname = \"b\"\n";
        let file = Path::new("p.toml");
        let all = pool_name_locations(file, src, 2);
        for (i, loc) in all.iter().enumerate() {
            let one = key_location(file, src, &["pool", &i.to_string(), "name"]);
            assert_eq!((loc.line, loc.column), (one.line, one.column));
        }
        assert_eq!(all[1].line, 6);
    }
}
