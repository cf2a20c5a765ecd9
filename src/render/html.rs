//! HTML pages from minijinja templates. Every value is escaped as HTML by the template engine
//! (templates named `*.html` escape automatically); only the chart SVGs, which the SVG backend
//! has already escaped, are inserted as markup.

use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("style.css", include_str!("templates/style.css")),
            ("packet.html", include_str!("templates/packet.html")),
            ("index.html", include_str!("templates/index.html")),
            ("quality.html", include_str!("templates/quality.html")),
        ] {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("built-in template `{name}` does not parse: {e}"));
        }
        env
    })
}

/// Render the named built-in template with `context`.
pub fn page(name: &str, context: impl Serialize) -> anyhow::Result<String> {
    let t = env().get_template(name)?;
    t.render(context)
        .map_err(|e| anyhow::anyhow!("rendering `{name}`: {e:#}"))
}
