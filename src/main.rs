fn main() {
    cnn_backprop_explorer::start();
}
