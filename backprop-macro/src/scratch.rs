#[test]
fn show() {
    let text = std::fs::read_to_string("/tmp/scratch_input.rs").unwrap();
    let item: syn::ItemFn = syn::parse_str(&text).unwrap();
    let attr: proc_macro2::TokenStream = std::fs::read_to_string("/tmp/scratch_attr.txt")
        .unwrap_or_default()
        .parse()
        .unwrap();
    let out = crate::expand::differentiate(attr, quote::quote!(#item), None);
    let file: syn::File = syn::parse2(out.clone()).unwrap_or_else(|_| panic!("{}", out));
    println!("{}", prettyplease::unparse(&file));
}
