//! The crate's modules import each other in one direction only: the graph of `crate::<module>` references
//! (in `use` lines and paths in code, doc comments excluded) has no cycle. Shared types live in the lowest
//! module that needs them (`types`, then `error`, ...), so a module can be read knowing only those below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name -> the crate modules its code refers to.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue; // the root re-exports everything
        }
        let text = std::fs::read_to_string(&path).expect("read a module");
        modules.insert(name, text);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, text)| {
            let mut deps = BTreeSet::new();
            for line in text.lines() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                // `use crate::a::...`, `use crate::{a::X, b::Y}` and `crate::a::f()` in code.
                let mut rest = code;
                while let Some(at) = rest.find("crate::") {
                    rest = &rest[at + "crate::".len()..];
                    let group = rest.strip_prefix('{').unwrap_or(rest);
                    for part in group.split(',') {
                        let module: String = part
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if names.contains(&module) && module != *name {
                            deps.insert(module);
                        }
                        if !rest.starts_with('{') {
                            break;
                        }
                    }
                }
            }
            (name.clone(), deps)
        })
        .collect()
}

/// A cycle in `graph`, if any (as the path of modules that closes it).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(dep, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_import_each_other_in_one_direction_only() {
    let graph = module_graph();
    assert!(graph.contains_key("client") && graph.contains_key("error"));
    assert!(
        graph["client"].contains("error"),
        "the parser must see client -> error: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}
