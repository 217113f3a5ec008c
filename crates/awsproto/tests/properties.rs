//! Property tests: hostile form bodies never panic; XML text always round-trips.

use podpass_awsproto::{AwsError, NS_IAM, QueryParams, XmlResponse, member_path};
use proptest::prelude::*;
use quick_xml::Reader;
use quick_xml::events::Event;

/// Concatenated text of the first `Description` element.
fn description_text(xml: &str) -> String {
    let mut reader = Reader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(start) => inside = start.local_name().as_ref() == b"Description",
            Event::Text(t) if inside => text.push_str(&t.xml10_content().unwrap()),
            Event::GeneralRef(r) if inside => {
                let resolved = match r.decode().unwrap().as_ref() {
                    "amp" => "&".to_owned(),
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "quot" => "\"".to_owned(),
                    "apos" => "'".to_owned(),
                    _ => r.resolve_char_ref().unwrap().map(String::from).unwrap(),
                };
                text.push_str(&resolved);
            }
            Event::End(_) if inside => return text,
            Event::Eof => return text,
            _ => {}
        }
    }
}

proptest! {
    #[test]
    fn hostile_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200), name in "[A-Za-z.0-9]{0,12}") {
        let params = QueryParams::parse(&body);
        let _ = params.list(&name);
        if let Some(members) = params.structs(&name) {
            for member in members {
                let _ = member.list("X");
                let _ = member.structs("Y");
                let _ = member.required("Z");
            }
        }
        let _ = params.i64(&name);
        let _ = params.bool(&name);
        let _ = member_path(&name);
    }

    #[test]
    fn list_members_come_back_in_index_order(values in proptest::collection::vec("[a-z]{1,5}", 1..20)) {
        let body: String = values
            .iter()
            .enumerate()
            .rev()
            .map(|(i, v)| format!("L.member.{}={v}&", i + 1))
            .collect();
        let params = QueryParams::parse(body.as_bytes());
        let expected: Vec<&str> = values.iter().map(String::as_str).collect();
        prop_assert_eq!(params.list("L"), Some(expected));
    }

    #[test]
    fn xml_text_round_trips(text in "[\t\n\r -\u{D7FF}\u{E000}-\u{FFFD}]{0,60}") {
        let response = XmlResponse::new("GetRole", NS_IAM, "r").result(|w| {
            w.elem("Description", &text);
        });
        prop_assert_eq!(description_text(response.body_text().unwrap()), text.clone());
        let error = AwsError::invalid_input(text.clone()).render_query(NS_IAM, "r");
        prop_assert!(error.body_text().unwrap().starts_with("<ErrorResponse"));
    }
}
