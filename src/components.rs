//! The page's components. Each plot component owns a canvas and draws on it with
//! plotters after rendering; the data comes from the trace and is never recomputed here.

pub mod backward_view;
pub mod controls;
pub mod editor;
pub mod explanation;
pub mod forward_view;
pub mod gradient_check;
pub mod heatmap;
pub mod legend;
pub mod share;
pub mod step_view;
pub mod stepper;
pub mod tensor_maps;
pub mod training;
