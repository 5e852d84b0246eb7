//! A small MathML builder: formulas are trees of [`Math`] nodes rendered by Yew into
//! `<math>` elements, which Chromium, Firefox and Safari draw natively. Text goes in as
//! element content, so it is escaped like any other text.

use yew::prelude::*;

/// One MathML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Math {
    /// `<mi>`: an identifier such as x or δ.
    Ident(String),
    /// `<mn>`: a number.
    Number(String),
    /// `<mo>`: an operator such as = or Σ.
    Op(String),
    /// `<mtext>`: words inside a formula.
    Text(String),
    /// `<mrow>`: a group.
    Row(Vec<Math>),
    /// `<msub>`: base with a subscript.
    Sub(Box<Math>, Box<Math>),
    /// `<msup>`: base with a superscript.
    Sup(Box<Math>, Box<Math>),
    /// `<mfrac>`: numerator over denominator.
    Frac(Box<Math>, Box<Math>),
    /// `<msqrt>`.
    Sqrt(Box<Math>),
    /// `<munder>`: an operator with a limit below it, such as Σ over i, j.
    Under(Box<Math>, Box<Math>),
}

pub fn ident(name: &str) -> Math {
    Math::Ident(name.to_string())
}

pub fn number(text: &str) -> Math {
    Math::Number(text.to_string())
}

pub fn op(symbol: &str) -> Math {
    Math::Op(symbol.to_string())
}

pub fn text(words: &str) -> Math {
    Math::Text(words.to_string())
}

pub fn row(items: Vec<Math>) -> Math {
    Math::Row(items)
}

pub fn sub(base: Math, script: Math) -> Math {
    Math::Sub(Box::new(base), Box::new(script))
}

pub fn sup(base: Math, script: Math) -> Math {
    Math::Sup(Box::new(base), Box::new(script))
}

pub fn frac(top: Math, bottom: Math) -> Math {
    Math::Frac(Box::new(top), Box::new(bottom))
}

pub fn sqrt(inner: Math) -> Math {
    Math::Sqrt(Box::new(inner))
}

pub fn under(base: Math, limit: Math) -> Math {
    Math::Under(Box::new(base), Box::new(limit))
}

/// `Σ` with `limit` below it.
pub fn sum_over(limit: &str) -> Math {
    under(op("Σ"), ident(limit))
}

/// `name` with the comma-separated subscripts `indices`.
pub fn indexed(name: &str, indices: &[&str]) -> Math {
    if indices.is_empty() {
        return ident(name);
    }
    let mut script = Vec::new();
    for (n, index) in indices.iter().enumerate() {
        if n > 0 {
            script.push(op(","));
        }
        script.push(ident(index));
    }
    sub(ident(name), row(script))
}

impl Math {
    /// Renders the node as MathML elements.
    pub fn to_html(&self) -> Html {
        match self {
            Math::Ident(name) => html! { <mi>{ name.clone() }</mi> },
            Math::Number(text) => html! { <mn>{ text.clone() }</mn> },
            Math::Op(symbol) => html! { <mo>{ symbol.clone() }</mo> },
            Math::Text(words) => html! { <mtext>{ words.clone() }</mtext> },
            Math::Row(items) => html! { <mrow>{ for items.iter().map(Math::to_html) }</mrow> },
            Math::Sub(base, script) => {
                html! { <msub>{ base.to_html() }{ script.to_html() }</msub> }
            }
            Math::Sup(base, script) => {
                html! { <msup>{ base.to_html() }{ script.to_html() }</msup> }
            }
            Math::Frac(top, bottom) => {
                html! { <mfrac>{ top.to_html() }{ bottom.to_html() }</mfrac> }
            }
            Math::Sqrt(inner) => html! { <msqrt>{ inner.to_html() }</msqrt> },
            Math::Under(base, limit) => {
                html! { <munder>{ base.to_html() }{ limit.to_html() }</munder> }
            }
        }
    }

    /// The formula as plain text, for screen readers and tests.
    pub fn to_text(&self) -> String {
        match self {
            Math::Ident(s) | Math::Number(s) | Math::Op(s) => s.clone(),
            Math::Text(s) => format!(" {s} "),
            Math::Row(items) => items.iter().map(Math::to_text).collect(),
            Math::Sub(base, script) => format!("{}_{}", base.to_text(), wrap(script)),
            Math::Sup(base, script) => format!("{}^{}", base.to_text(), wrap(script)),
            Math::Frac(top, bottom) => format!("({})/({})", top.to_text(), bottom.to_text()),
            Math::Sqrt(inner) => format!("√({})", inner.to_text()),
            Math::Under(base, limit) => format!("{}_{}", base.to_text(), wrap(limit)),
        }
    }
}

fn wrap(script: &Math) -> String {
    let text = script.to_text();
    if text.chars().count() > 1 {
        format!("{{{text}}}")
    } else {
        text
    }
}

/// A `<math>` element, `display="block"` when `block`, with a plain-text label.
pub fn formula(body: &Math, block: bool) -> Html {
    let display = if block { "block" } else { "inline" };
    html! {
        <math display={display} aria-label={body.to_text()}>{ body.to_html() }</math>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_reads_like_latex() {
        let m = row(vec![
            indexed("y", &["k", "i"]),
            op("="),
            sum_over("c"),
            ident("x"),
        ]);
        assert_eq!(m.to_text(), "y_{k,i}=Σ_cx");
    }
}
