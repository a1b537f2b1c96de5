//! The souk binary.

fn main() {
    println!("souk");
}
