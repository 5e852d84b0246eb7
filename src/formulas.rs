//! The formulas the stepper shows: the general formula of each step, the one-sentence
//! description with the step's shapes, and a cell's formula with its numbers substituted.

use cnn_core::explain::{Combine, Explanation, Factor};
use cnn_core::pool::PoolRouting;
use cnn_core::{Activation, BackwardOp, ForwardOp, Loss, Tensor};

use crate::format::short;
use crate::math::{frac, ident, indexed, number, op, row, sqrt, sub, sum_over, sup, text, Math};

/// The symbol of a trace tensor in the core's notation.
pub fn symbol(tensor: &str) -> &'static str {
    match tensor {
        "x" => "x",
        "x_padded" => "xᵖ",
        "w" => "W",
        "b" => "b",
        "z" => "z",
        "y" => "y",
        "grad_y" => "δ",
        "grad_y_dilated" => "δ̂",
        "grad_y_full" => "δ̃",
        "grad_x" => "δˣ",
        "grad_x_padded" => "δˣᵖ",
        "grad_w" => "∂L/∂W",
        "grad_b" => "∂L/∂b",
        "derivative" => "f′(z)",
        "kernels_rotated" => "rot180(W)",
        "weights" => "x/‖x‖",
        "switch" => "s",
        "switches" => "switch count",
        "probabilities" => "p",
        "1/β" => "1/β",
        "−onehot" => "−onehot",
        "−target" => "−t",
        _ => "?",
    }
}

/// What each symbol means, for the legend under a formula.
pub fn meaning(tensor: &str) -> &'static str {
    match tensor {
        "x" => "the layer input",
        "x_padded" => "the input with its zero padding",
        "w" => "the weights",
        "b" => "the bias",
        "z" => "the activation's input (pre-activation)",
        "y" => "the layer output",
        "grad_y" => "δ = dL/dy, the gradient arriving at this step",
        "grad_y_dilated" => "δ with stride − 1 zeros inserted between entries",
        "grad_y_full" => "δ with zeros inserted for the stride, padded by the kernel extent − 1",
        "grad_x" => "δˣ = dL/dx, the gradient passed to the previous layer",
        "grad_x_padded" => "dL/dx before cropping the padding",
        "grad_w" => "the weight gradient",
        "grad_b" => "the bias gradient",
        "derivative" => "the activation's derivative at z",
        "kernels_rotated" => "the kernels turned by 180°",
        "weights" => "each cell's share x/‖x‖ of its window (0 for an all-zero window)",
        "switch" => "1 where the window's recorded maximum is this cell, else 0",
        "switches" => "the number of windows whose recorded maximum is this cell",
        "probabilities" => "softmax(y)",
        "1/β" => "one over the window area β = window height · width",
        "−onehot" => "minus 1 at the label, 0 elsewhere",
        "−target" => "minus the target value",
        _ => "",
    }
}

fn index_text(index: &[usize]) -> String {
    index
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `name[index]` as MathML: the symbol with the index as subscript.
pub fn cell(tensor: &str, index: &[usize]) -> Math {
    if index.is_empty() {
        return ident(symbol(tensor));
    }
    sub(ident(symbol(tensor)), number(&index_text(index)))
}

fn value(v: f64) -> Math {
    let text = short(v);
    if v < 0.0 {
        row(vec![op("("), number(&text), op(")")])
    } else {
        number(&text)
    }
}

fn function_name(f: Activation) -> &'static str {
    f.name()
}

/// The general formula of a forward layer.
pub fn forward_formula(op_: &ForwardOp) -> Math {
    match op_ {
        ForwardOp::Conv { .. } => row(vec![
            indexed("y", &["k", "i", "j"]),
            op("="),
            indexed("b", &["k"]),
            op("+"),
            sum_over("c,u,v"),
            indexed("W", &["k", "c", "u", "v"]),
            op("·"),
            sub(
                ident("xᵖ"),
                row(vec![
                    ident("c"),
                    op(","),
                    ident("i·S+u·D"),
                    op(","),
                    ident("j·S+v·D"),
                ]),
            ),
        ]),
        ForwardOp::Activation { function, .. } => row(vec![
            ident("y"),
            op("="),
            ident(function_name(*function)),
            op("("),
            ident("z"),
            op(")"),
        ]),
        ForwardOp::Pool { spec, .. } => {
            let window = text("over the window of (i, j)");
            match spec.kind {
                cnn_core::PoolKind::Mean => row(vec![
                    indexed("y", &["c", "i", "j"]),
                    op("="),
                    frac(number("1"), ident("β")),
                    sum_over("h,w"),
                    indexed("x", &["c", "h", "w"]),
                    window,
                ]),
                cnn_core::PoolKind::Max => row(vec![
                    indexed("y", &["c", "i", "j"]),
                    op("="),
                    ident("max"),
                    indexed("x", &["c", "h", "w"]),
                    window,
                ]),
                cnn_core::PoolKind::L2 => row(vec![
                    indexed("y", &["c", "i", "j"]),
                    op("="),
                    sqrt(row(vec![
                        sum_over("h,w"),
                        sup(indexed("x", &["c", "h", "w"]), number("2")),
                    ])),
                    window,
                ]),
            }
        }
        ForwardOp::Dense { .. } => row(vec![
            indexed("y", &["o"]),
            op("="),
            indexed("b", &["o"]),
            op("+"),
            sum_over("i"),
            indexed("W", &["o", "i"]),
            op("·"),
            indexed("x", &["i"]),
        ]),
    }
}

/// The general formula of a backward step.
pub fn backward_formula(step: &BackwardOp, loss: Option<&Loss>) -> Math {
    match step {
        BackwardOp::LossGradient { .. } => match loss {
            Some(Loss::Mse { .. }) => {
                row(vec![ident("δ"), op("="), ident("y"), op("−"), ident("t")])
            }
            _ => row(vec![
                ident("δ"),
                op("="),
                ident("softmax"),
                op("("),
                ident("y"),
                op(")"),
                op("−"),
                ident("onehot"),
                op("("),
                ident("label"),
                op(")"),
            ]),
        },
        BackwardOp::Upstream { .. } => row(vec![
            ident("δ"),
            op("="),
            text("the given upstream gradient"),
        ]),
        BackwardOp::DenseParams { .. } => row(vec![
            frac(ident("∂L"), indexed("∂W", &["o", "i"])),
            op("="),
            indexed("δ", &["o"]),
            op("·"),
            indexed("x", &["i"]),
            text(", "),
            frac(ident("∂L"), indexed("∂b", &["o"])),
            op("="),
            indexed("δ", &["o"]),
        ]),
        BackwardOp::DenseInput { .. } => row(vec![
            indexed("δˣ", &["i"]),
            op("="),
            sum_over("o"),
            indexed("W", &["o", "i"]),
            op("·"),
            indexed("δ", &["o"]),
        ]),
        BackwardOp::Activation { function, .. } => row(vec![
            ident("δˣ"),
            op("="),
            ident("δ"),
            op("⊙"),
            ident(&format!("{}′", function_name(*function))),
            op("("),
            ident("z"),
            op(")"),
        ]),
        BackwardOp::Pool { routing, .. } => {
            let lhs = indexed("δˣ", &["c", "h", "w"]);
            let over = sum_over("(i,j) ∋ (h,w)");
            match routing {
                PoolRouting::Mean { .. } => row(vec![
                    lhs,
                    op("="),
                    over,
                    frac(indexed("δ", &["c", "i", "j"]), ident("β")),
                    text(", β = window height · width"),
                ]),
                PoolRouting::Max { .. } => row(vec![
                    lhs,
                    op("="),
                    over,
                    indexed("δ", &["c", "i", "j"]),
                    op("·"),
                    indexed("s", &["c", "i", "j"]),
                    op("("),
                    ident("h,w"),
                    op(")"),
                ]),
                PoolRouting::L2 { .. } => row(vec![
                    lhs,
                    op("="),
                    over,
                    indexed("δ", &["c", "i", "j"]),
                    op("·"),
                    frac(
                        indexed("x", &["c", "h", "w"]),
                        indexed("y", &["c", "i", "j"]),
                    ),
                ]),
            }
        }
        BackwardOp::ConvWeights { .. } => row(vec![
            frac(ident("∂L"), indexed("∂W", &["k", "c", "u", "v"])),
            op("="),
            sum_over("i,j"),
            sub(
                ident("xᵖ"),
                row(vec![
                    ident("c"),
                    op(","),
                    ident("i·S+u·D"),
                    op(","),
                    ident("j·S+v·D"),
                ]),
            ),
            op("·"),
            indexed("δ", &["k", "i", "j"]),
        ]),
        BackwardOp::ConvBias { .. } => row(vec![
            frac(ident("∂L"), indexed("∂b", &["k"])),
            op("="),
            sum_over("i,j"),
            indexed("δ", &["k", "i", "j"]),
        ]),
        BackwardOp::ConvInput { .. } => row(vec![
            indexed("δˣ", &["c"]),
            op("="),
            ident("crop"),
            op("("),
            sum_over("k"),
            sub(ident("fullcorr"), ident("D")),
            op("("),
            indexed("δ̃", &["k"]),
            op(","),
            ident("rot180"),
            op("("),
            indexed("W", &["k", "c"]),
            op(")"),
            op(")"),
            op(")"),
        ]),
    }
}

fn shape(t: &Tensor) -> String {
    t.shape()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// One sentence on what a backward step does, with its shapes.
pub fn sentence(step: &BackwardOp) -> String {
    match step {
        BackwardOp::LossGradient { grad_y, .. } => format!(
            "The loss gives the first δ = dL/dy, one value per output ({}).",
            shape(grad_y)
        ),
        BackwardOp::Upstream { grad_y } => format!(
            "The backward pass starts from a given δ = dL/dy at the output ({}); the loss is L = Σ δ ⊙ y.",
            shape(grad_y)
        ),
        BackwardOp::DenseParams { grad_y, grad_w, .. } => format!(
            "Each weight's gradient is its output's δ times its input: ∂L/∂W ({}) is the outer product of δ ({}) and x, and ∂L/∂b = δ.",
            shape(grad_w),
            shape(grad_y)
        ),
        BackwardOp::DenseInput { grad_x, .. } => format!(
            "δ goes back through the transposed weights, Wᵀδ, and is reshaped to the layer's input ({}).",
            shape(grad_x)
        ),
        BackwardOp::Activation { function, grad_x, .. } => format!(
            "δ is multiplied cell by cell with {}′(z), the derivative at the pre-activation ({}){}.",
            function.name(),
            shape(grad_x),
            if *function == Activation::Relu { "; relu′(z) is 1 for z > 0 and 0 otherwise, so relu′(0) = 0 by convention" } else { "" }
        ),
        BackwardOp::Pool { spec, routing, grad_y, grad_x, .. } => {
            let how = match routing {
                PoolRouting::Mean { beta } => format!("every cell of a window gets δ/β, with β = window height · width = {}·{} = {beta}", spec.size[0], spec.size[1]),
                PoolRouting::Max { .. } => "each window's δ goes whole to its maximum, recorded in the forward pass (the first one in row-major order on a tie)".into(),
                PoolRouting::L2 { .. } => "each cell gets δ·x/‖x‖ of its window, and 0 where the window is all zero".into(),
            };
            format!(
                "{} pooling upsamples δ from {} to {}: {how}; a cell in several windows receives the sum.",
                capitalised(spec.kind.name()),
                shape(grad_y),
                shape(grad_x)
            )
        }
        BackwardOp::ConvWeights { grad_w, grad_y, .. } => format!(
            "∂L/∂W ({}) is the valid correlation of the padded input with δ ({}): each weight sums input·δ over every window it touched.",
            shape(grad_w),
            shape(grad_y)
        ),
        BackwardOp::ConvBias { grad_b, .. } => format!(
            "∂L/∂b ({}) is the sum of each kernel's δ over all positions.",
            shape(grad_b)
        ),
        BackwardOp::ConvInput { spec, grad_x, grad_y_full, grad_x_padded, kernels_rotated, .. } => {
            let insert = if spec.stride == [1, 1] {
                "the stride is 1, so no zeros are inserted between δ entries".to_string()
            } else {
                format!("insert stride − 1 zeros between δ entries (stride {})", format_pair(spec.stride))
            };
            let extent = [
                (kernels_rotated.shape()[2] - 1) * spec.dilation[0] + 1,
                (kernels_rotated.shape()[3] - 1) * spec.dilation[1] + 1,
            ];
            let dilation = if spec.dilation == [1, 1] {
                String::new()
            } else {
                format!(", its taps {} apart as in the forward pass", format_pair(spec.dilation))
            };
            let crop = if spec.padding == [0, 0] {
                "there is no padding to crop".to_string()
            } else {
                format!("crop the padding {}", format_pair(spec.padding))
            };
            // The full correlation covers (rows of δ̃) − extent + 1 rows of the padded input;
            // rows past that were read by no window, because the output size rounds down.
            let covered = [grad_y_full.shape()[1] - (extent[0] - 1), grad_y_full.shape()[2] - (extent[1] - 1)];
            let unread = [
                grad_x_padded.shape()[1].saturating_sub(covered[0]),
                grad_x_padded.shape()[2].saturating_sub(covered[1]),
            ];
            let remainder = if unread == [0, 0] {
                String::new()
            } else {
                format!(
                    " The last {} row(s) and {} column(s) of the padded input were read by no window (the output size rounds down), so their gradient is 0.",
                    unread[0], unread[1]
                )
            };
            format!(
                "δ to the previous layer ({}): {insert}; pad by the kernel extent − 1, where the extent (F − 1)·D + 1 = {} is the span of the dilated kernel (giving {}); fully correlate with each 180°-rotated kernel{dilation}, which is the textbook full convolution with the kernel itself, and sum over kernels; {crop}.{remainder}",
                shape(grad_x),
                format_pair(extent),
                shape(grad_y_full),
            )
        }
    }
}

fn format_pair(pair: [usize; 2]) -> String {
    format!("{}×{}", pair[0], pair[1])
}

fn capitalised(word: &str) -> String {
    match word {
        "l2" => "L2".into(),
        _ => {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

fn factor_term(f: &Factor) -> Math {
    value(f.value)
}

/// Sums with more terms than this fold their zero products into a count.
const FOLD_ZEROS_ABOVE: usize = 24;

/// The left side and the symbolic terms of an explanation, then the numbers, then the
/// result: `δˣ₀,₁ = δ₀,₀·s + … = 0.5 + … = 1.25`. Returns one formula per piece so that a
/// long sum can wrap between terms.
pub fn substituted(e: &Explanation) -> Vec<Math> {
    let mut pieces = vec![row(vec![cell(&e.tensor, &e.index), op("=")])];
    let open = match &e.combine {
        Combine::Mean { beta } => Some(row(vec![
            frac(number("1"), number(&beta.to_string())),
            op("("),
        ])),
        Combine::Max { .. } => Some(row(vec![ident("max"), op("(")])),
        Combine::L2 => Some(row(vec![op("√"), op("(")])),
        Combine::Apply { function } => Some(row(vec![ident(function.name()), op("(")])),
        Combine::Derivative { function } => {
            Some(row(vec![ident(&format!("{}′", function.name())), op("(")]))
        }
        Combine::Sum => None,
    };
    if let Some(open) = open {
        pieces.push(open);
    }
    if let Some(offset) = &e.offset {
        pieces.push(row(vec![factor_term(offset)]));
    }
    // A long sum of taps over padding or inserted zeros is mostly "+ 0·w": fold the zero
    // products into one count. Short sums keep them, because they show the zero insertion.
    let fold_zeros = e.terms.len() > FOLD_ZEROS_ABOVE && matches!(e.combine, Combine::Sum);
    let mut zeros = 0;
    let mut shown = 0;
    for term in &e.terms {
        if fold_zeros && term.product == 0.0 {
            zeros += 1;
            continue;
        }
        let mut items = Vec::new();
        if shown > 0 || e.offset.is_some() {
            items.push(op(if matches!(e.combine, Combine::Max { .. }) {
                ","
            } else {
                "+"
            }));
        }
        for (k, f) in term.factors.iter().enumerate() {
            if k > 0 {
                items.push(op("·"));
            }
            let squared = matches!(e.combine, Combine::L2);
            items.push(if squared {
                sup(factor_term(f), number("2"))
            } else {
                factor_term(f)
            });
        }
        pieces.push(row(items));
        shown += 1;
    }
    if zeros > 0 {
        let plus = if shown > 0 || e.offset.is_some() {
            "+"
        } else {
            ""
        };
        pieces.push(row(vec![
            op(plus),
            text(&format!("{zeros} terms equal to 0")),
        ]));
    }
    if e.terms.is_empty() && e.offset.is_none() {
        pieces.push(number("0"));
    }
    if !matches!(e.combine, Combine::Sum) {
        pieces.push(op(")"));
    }
    pieces.push(row(vec![op("="), number(&short(e.result))]));
    pieces
}

/// The symbolic form of one term, such as `W₀,₁,₂,₂ · xᵖ₁,₃,₄`.
pub fn term_symbols(factors: &[Factor]) -> Math {
    let mut items = Vec::new();
    for (k, f) in factors.iter().enumerate() {
        if k > 0 {
            items.push(op("·"));
        }
        items.push(cell(&f.tensor, &f.index));
    }
    row(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnn_core::explain::Term;

    #[test]
    fn substituted_sum_ends_with_result() {
        let e = Explanation {
            tensor: "y".into(),
            index: vec![0, 1],
            combine: Combine::Sum,
            terms: vec![Term {
                factors: vec![
                    Factor {
                        tensor: "w".into(),
                        index: vec![0],
                        value: 2.0,
                    },
                    Factor {
                        tensor: "x".into(),
                        index: vec![1],
                        value: -0.5,
                    },
                ],
                product: -1.0,
            }],
            offset: Some(Factor {
                tensor: "b".into(),
                index: vec![0],
                value: 0.25,
            }),
            result: -0.75,
            value: -0.75,
        };
        let text: String = substituted(&e).iter().map(Math::to_text).collect();
        assert_eq!(text, "y_{0,1}=0.25+2·(−0.5)=−0.75");
    }
}
