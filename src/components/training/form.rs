//! The settings form: network (pooling, activation, initialisation seed) and optimiser
//! (learning rate, momentum, batch size, epochs, shuffle seed).

use cnn_core::{Activation, PoolKind};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::training::protocol::{Settings, MAX_BATCH_SIZE, MAX_EPOCHS};

/// A numeric field of [`Settings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    LearningRate,
    Momentum,
    BatchSize,
    Epochs,
    InitSeed,
    ShuffleSeed,
}

impl Field {
    fn id(self) -> &'static str {
        match self {
            Field::LearningRate => "train-learning-rate",
            Field::Momentum => "train-momentum",
            Field::BatchSize => "train-batch-size",
            Field::Epochs => "train-epochs",
            Field::InitSeed => "train-init-seed",
            Field::ShuffleSeed => "train-shuffle-seed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Field::LearningRate => "Learning rate η ",
            Field::Momentum => "Momentum μ ",
            Field::BatchSize => "Batch size ",
            Field::Epochs => "Epochs ",
            Field::InitSeed => "Initialisation seed ",
            Field::ShuffleSeed => "Shuffle seed ",
        }
    }

    fn value(self, settings: &Settings) -> String {
        match self {
            Field::LearningRate => number_text(settings.learning_rate),
            Field::Momentum => settings.momentum.to_string(),
            Field::BatchSize => settings.batch_size.to_string(),
            Field::Epochs => settings.epochs.to_string(),
            Field::InitSeed => settings.init_seed.to_string(),
            Field::ShuffleSeed => settings.shuffle_seed.to_string(),
        }
    }
}

/// Formats `value` for a number field: plain from 0.0001 to 1,000,000, else scientific,
/// where Rust's plain form of 1e150 would have 151 digits.
pub fn number_text(value: f64) -> String {
    if value == 0.0 || (1e-4..1e6).contains(&value.abs()) {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

/// Sets `field` of `settings` from the text of its input.
///
/// Errors: a sentence naming the field, the text and the allowed values.
pub fn parse_field(settings: &Settings, field: Field, text: &str) -> Result<Settings, String> {
    let text = text.trim();
    let mut next = settings.clone();
    let whole = |low: usize, high: usize, name: &str| {
        text.parse::<usize>()
            .ok()
            .filter(|v| (low..=high).contains(v))
            .ok_or_else(|| {
                format!("“{text}” is not a valid {name}; use a whole number from {low} to {high}")
            })
    };
    let seed = |name: &str| {
        text.parse::<u64>().map_err(|_| {
            format!(
                "“{text}” is not a valid {name}; use a whole number from 0 to {}",
                u64::MAX
            )
        })
    };
    match field {
        Field::LearningRate => {
            next.learning_rate = text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| {
                    format!(
                        "“{text}” is not a valid learning rate; use a positive number such as 0.02"
                    )
                })?;
        }
        Field::Momentum => {
            next.momentum = text
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..1.0).contains(v))
                .ok_or_else(|| format!("“{text}” is not a valid momentum; use a number from 0 up to, but not including, 1"))?;
        }
        Field::BatchSize => next.batch_size = whole(1, MAX_BATCH_SIZE, "batch size")?,
        Field::Epochs => next.epochs = whole(1, MAX_EPOCHS, "epoch count")?,
        Field::InitSeed => next.init_seed = seed("initialisation seed")?,
        Field::ShuffleSeed => next.shuffle_seed = seed("shuffle seed")?,
    }
    Ok(next)
}

#[derive(Properties, PartialEq)]
pub struct FormProps {
    pub settings: Settings,
    pub on_change: Callback<Settings>,
}

#[component]
pub fn SettingsForm(props: &FormProps) -> Html {
    let error = use_state(|| None::<(Field, String)>);
    let settings = &props.settings;

    let on_pool = {
        let (settings, on_change) = (settings.clone(), props.on_change.clone());
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Some(pool) = PoolKind::ALL
                .into_iter()
                .find(|k| k.name() == select.value())
            {
                on_change.emit(Settings {
                    pool,
                    ..settings.clone()
                });
            }
        })
    };
    let on_activation = {
        let (settings, on_change) = (settings.clone(), props.on_change.clone());
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            let chosen = Activation::ALL
                .into_iter()
                .find(|a| a.name() == select.value());
            if let Some(activation) = chosen {
                on_change.emit(Settings {
                    activation,
                    ..settings.clone()
                });
            }
        })
    };
    let number = |field: Field, step: &'static str| {
        let onchange = {
            let (settings, on_change, error) =
                (settings.clone(), props.on_change.clone(), error.clone());
            Callback::from(move |event: Event| {
                let input: HtmlInputElement = event.target_unchecked_into();
                match parse_field(&settings, field, &input.value()) {
                    Ok(next) => {
                        error.set(None);
                        on_change.emit(next);
                    }
                    Err(message) => error.set(Some((field, message))),
                }
            })
        };
        let invalid = error.as_ref().is_some_and(|(f, _)| *f == field);
        html! {
            <label>
                { field.label() }
                <input id={field.id()} type="number" {step} value={field.value(settings)}
                    aria-invalid={invalid.to_string()} aria-describedby="train-form-error" {onchange} />
            </label>
        }
    };
    html! {
        <fieldset class="train-form">
            <legend>{ "Network and optimiser" }</legend>
            <div class="train-fields">
                <label>
                    { "Pooling " }
                    <select id="train-pool" onchange={on_pool}>
                        { for PoolKind::ALL.iter().map(|k| html! {
                            <option value={k.name()} selected={*k == settings.pool}>{ k.name() }</option>
                        }) }
                    </select>
                </label>
                <label>
                    { "Activation " }
                    <select id="train-activation" onchange={on_activation}>
                        { for Activation::ALL.iter().map(|a| html! {
                            <option value={a.name()} selected={*a == settings.activation}>{ a.name() }</option>
                        }) }
                    </select>
                </label>
                { number(Field::InitSeed, "1") }
                { number(Field::LearningRate, "any") }
                { number(Field::Momentum, "0.05") }
                { number(Field::BatchSize, "1") }
                { number(Field::Epochs, "1") }
                { number(Field::ShuffleSeed, "1") }
            </div>
            <p id="train-form-error" class="error" role="alert">{ error.as_ref().map(|(_, m)| m.clone()).unwrap_or_default() }</p>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_field_sets_value() {
        let settings = Settings::default();
        let next = parse_field(&settings, Field::LearningRate, " 0.1 ").unwrap();
        assert_eq!(next.learning_rate, 0.1);
        let next = parse_field(&settings, Field::BatchSize, "4").unwrap();
        assert_eq!(next.batch_size, 4);
        let next = parse_field(&settings, Field::InitSeed, "99").unwrap();
        assert_eq!(next.init_seed, 99);
    }

    #[test]
    fn number_text_shortens_extremes() {
        assert_eq!(number_text(0.02), "0.02");
        assert_eq!(number_text(1e150), "1e150");
        assert_eq!(number_text(1e-7), "1e-7");
        assert_eq!(number_text(1e150).parse::<f64>(), Ok(1e150));
    }

    #[test]
    fn parse_field_rejects_out_of_range() {
        let settings = Settings::default();
        let cases = [
            (Field::LearningRate, "0", "positive number"),
            (Field::LearningRate, "NaN", "positive number"),
            (Field::Momentum, "1", "not including, 1"),
            (Field::BatchSize, "0", "from 1 to 256"),
            (Field::BatchSize, "2.5", "from 1 to 256"),
            (Field::Epochs, "51", "from 1 to 50"),
            (Field::ShuffleSeed, "-1", "from 0 to"),
        ];
        for (field, text, expected) in cases {
            let message = parse_field(&settings, field, text).unwrap_err();
            assert!(message.contains(expected), "{field:?} {text}: {message}");
        }
    }
}
