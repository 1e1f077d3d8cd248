//! The HTTP API described as OpenAPI 3.1 (`signaling/openapi.json`, written by hand next to
//! the handlers it describes), served at `/api/docs/openapi.json`, and a page at `/api/docs`
//! that renders it for reading. The page is self-contained: deployments and developer
//! machines often have no internet, so no script or style comes from elsewhere.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

/// The document.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// `/api/docs` and `/api/docs/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(page))
        .route("/api/docs/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page's script and style are inline (it must work offline); nothing else runs.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
}

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Accord API</title>
<style>
 body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0 auto; max-width: 980px; padding: 16px; color: #1d2730; }
 h1 { font-size: 24px; } h2 { margin-top: 32px; border-bottom: 1px solid #d3dbe2; }
 .op { border: 1px solid #d3dbe2; border-radius: 10px; margin: 10px 0; padding: 8px 12px; }
 .method { display: inline-block; min-width: 60px; font-weight: 700; text-transform: uppercase; }
 .get { color: #1565c0; } .post { color: #2e7d32; } .patch { color: #b26a00; } .delete { color: #c62828; }
 code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
 pre { background: #f4f7f9; padding: 8px; border-radius: 8px; overflow-x: auto; }
 .muted { color: #5b6975; } table { border-collapse: collapse; } td { padding: 2px 10px 2px 0; vertical-align: top; }
</style>
</head>
<body>
<h1>Accord HTTP API</h1>
<p class="muted">OpenAPI 3.1: <a href="/api/docs/openapi.json">/api/docs/openapi.json</a></p>
<div id="doc">加载中… Loading…</div>
<script>
(async () => {
  const root = document.getElementById('doc');
  const doc = await (await fetch('/api/docs/openapi.json')).json();
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
  const resolve = (schema) => {
    if (schema && schema.$ref) return { name: schema.$ref.split('/').pop(), schema: doc.components.schemas[schema.$ref.split('/').pop()] };
    return { name: null, schema };
  };
  const show = (schema) => {
    const { name, schema: s } = resolve(schema);
    return name ? name + ' ' + JSON.stringify(s, null, 1) : JSON.stringify(s, null, 1);
  };
  root.textContent = '';
  root.append(el('p', doc.info.description));
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags || ['other'])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  for (const [tag, ops] of byTag) {
    root.append(el('h2', tag));
    for (const { path, method, op } of ops) {
      const box = el('div', '', 'op');
      const head = el('div');
      head.append(el('span', method, 'method ' + method), el('code', path), document.createTextNode(' — ' + op.summary));
      box.append(head);
      const security = op.security ?? doc.security ?? [];
      box.append(el('div', security.length ? 'Auth: ' + security.map((s) => Object.keys(s).join('+')).join(' | ') : 'Auth: none', 'muted'));
      if (op.description) box.append(el('p', op.description));
      if (op.parameters?.length) {
        const table = el('table');
        for (const p of op.parameters) {
          const row = el('tr');
          row.append(el('td', p.in), el('td', p.name + (p.required ? ' *' : '')), el('td', p.description || ''));
          table.append(row);
        }
        box.append(table);
      }
      if (op.requestBody) {
        for (const [type, media] of Object.entries(op.requestBody.content)) {
          box.append(el('div', 'Body (' + type + ')', 'muted'), el('pre', show(media.schema)));
        }
      }
      const answers = el('table');
      for (const [code, answer] of Object.entries(op.responses)) {
        const row = el('tr');
        const schema = answer.content ? Object.values(answer.content)[0].schema : null;
        row.append(el('td', code), el('td', answer.description), el('td', schema ? (resolve(schema).name || '') : ''));
        answers.append(row);
      }
      box.append(answers);
      root.append(box);
    }
  }
  root.append(el('h2', 'Schemas'));
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    root.append(el('h3', name), el('pre', JSON.stringify(schema, null, 1)));
  }
})().catch((e) => { document.getElementById('doc').textContent = String(e); });
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => found.push(target),
                        _ => refs(inner, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"].as_object().is_some_and(|p| p.len() > 30));
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().expect("operations") {
                assert!(op["summary"].is_string(), "{method} {path} has no summary");
                assert!(
                    op["responses"].is_object(),
                    "{method} {path} has no responses"
                );
            }
        }
    }
}
