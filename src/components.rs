//! The page's components. Each plot component owns a canvas and draws on it with
//! plotters after rendering; the data comes from the trace and is never recomputed here.

pub mod backward_view;
pub mod controls;
pub mod forward_view;
pub mod heatmap;
pub mod legend;
pub mod tensor_maps;
