//! Random customer profiles: name, contacts, address, tags, notes, attributes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Gen, Profile, customer_id, names::*};
use crate::{
    model::{Address, Customer, Note, Tier},
    money::Money,
    time::{DAY, Timestamp},
};

/// Customer indexes that get one of [`UNUSUAL_NAMES`], in order, whatever the seed.
const UNUSUAL_SLOTS: [usize; 8] = [6, 23, 57, 98, 141, 188, 233, 277];

/// The Chinese mainland country code.
const CN: &str = "+86";

impl Gen {
    /// A random customer at `index` (1 and up; 0 is the showcase).
    pub(super) fn random_customer(&mut self, index: usize) -> Profile {
        let abroad = self.chance(0.1);
        let (name, local) = match UNUSUAL_SLOTS.iter().position(|&slot| slot == index) {
            Some(k) => (UNUSUAL_NAMES[k].0.to_owned(), UNUSUAL_NAMES[k].1.to_owned()),
            None if self.chance(if abroad { 0.7 } else { 0.2 }) => self.english_name(),
            None => self.chinese_name(),
        };
        let dial_code = if abroad { self.pick(ABROAD).5 } else { CN };

        let email_count = self.weighted(&[(0, 12), (1, 78), (2, 10)]);
        let emails = (0..email_count)
            .map(|n| {
                let local = if n == 0 {
                    local.clone()
                } else {
                    format!("{local}.work")
                };
                self.unique_email(&local)
            })
            .collect();
        let phone_count = self.weighted(&[(1, 92), (2, 8)]);
        let mut phones = vec![self.unique_phone(dial_code)];
        if phone_count == 2 {
            phones.push(self.unique_phone(CN));
        }

        let created_at = self
            .now
            .plus(-self.between(40, 1400) * DAY - self.between(0, DAY - 1));
        let address = self.address(&name, &phones[0], abroad, dial_code);
        let tags = self.tags();
        let notes = self.notes(created_at);
        let han = name.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let attributes = self.attributes(abroad, &address.country, !han);
        Profile {
            customer: Customer {
                id: customer_id(index),
                name,
                emails,
                phones,
                tier: Tier::Bronze, // set from lifetime value once orders exist
                tags,
                lifetime_value: Money::cny(0),
                created_at,
                notes,
                attributes,
            },
            address,
            abroad,
        }
    }

    /// `王芳` and an e-mail local part such as `wang.fang` or `fangwang88`.
    fn chinese_name(&mut self) -> (String, String) {
        let (surname, s) = self.pick(SURNAMES);
        let (given, g) = self.pick(GIVEN_NAMES);
        let local = match self.between(0, 3) {
            0 => format!("{s}.{g}"),
            1 => format!("{g}.{s}"),
            2 => format!("{s}{g}{}", self.between(10, 99)),
            _ => format!("{s}_{g}{}", self.between(1975, 2006)),
        };
        (format!("{surname}{given}"), local)
    }

    /// `Emma García` and an e-mail local part such as `emma.garcia`.
    fn english_name(&mut self) -> (String, String) {
        let first = self.pick(ENGLISH_FIRST);
        let last = self.pick(ENGLISH_LAST);
        let (f, l) = (ascii_fold(first), ascii_fold(last));
        let local = if self.chance(0.7) {
            format!("{f}.{l}")
        } else {
            format!("{f}{}{}", &l[..1], self.between(1, 99))
        };
        (format!("{first} {last}"), local)
    }

    /// `local@domain`, with a number added if the address is taken.
    pub(super) fn unique_email(&mut self, local: &str) -> String {
        let domain = self.pick(EMAIL_DOMAINS);
        let mut email = format!("{local}@{domain}");
        let mut n = 2;
        while !self.emails.insert(email.clone()) {
            email = format!("{local}{n}@{domain}");
            n += 1;
        }
        email
    }

    /// A mobile number no other customer has, in the country's usual grouping.
    pub(super) fn unique_phone(&mut self, dial_code: &str) -> String {
        loop {
            let phone = match dial_code {
                "+65" => format!("+65 9{} {}", self.digits(3), self.digits(4)),
                "+852" => format!("+852 9{} {}", self.digits(3), self.digits(4)),
                // Numbers reserved for fiction in each country.
                "+1" => format!("+1 415 555 01{}", self.digits(2)),
                "+44" => format!("+44 7700 900{}", self.digits(3)),
                "+61" => format!("+61 491 570 {}", self.digits(3)),
                _ => {
                    let prefix = self.pick(CN_MOBILE_PREFIXES);
                    format!("+86 {prefix} {} {}", self.digits(4), self.digits(4))
                }
            };
            if self.phones.insert(phone.clone()) {
                return phone;
            }
        }
    }

    /// Home address: a Chinese city, or the abroad address matching the dial code.
    fn address(&mut self, name: &str, phone: &str, abroad: bool, dial_code: &str) -> Address {
        if abroad {
            let (line1, city, province, postal, country, _) = ABROAD
                .iter()
                .copied()
                .find(|a| a.5 == dial_code)
                .expect("dial codes come from ABROAD");
            let line2 = self
                .chance(0.5)
                .then(|| format!("#{:02}-{:02}", self.between(2, 40), self.between(1, 12)));
            return Address {
                name: name.to_owned(),
                phone: phone.to_owned(),
                line1: line1.to_owned(),
                line2,
                city: city.to_owned(),
                province: province.to_owned(),
                postal_code: postal.to_owned(),
                country: country.to_owned(),
            };
        }
        let city = &CITIES[self.between(0, CITIES.len() as i64 - 1) as usize];
        let district = self.pick(city.districts);
        let road = self.pick(ROADS);
        let line1 = format!("{district}{road}{}号", self.between(1, 999));
        let line2 = self.chance(0.7).then(|| {
            let floor = self.between(1, 32);
            let unit = self.between(1, 4);
            format!("{}栋{floor}{unit:02}室", self.between(1, 30))
        });
        Address {
            name: name.to_owned(),
            phone: phone.to_owned(),
            line1,
            line2,
            city: city.city.to_owned(),
            province: city.province.to_owned(),
            postal_code: city.postal_code.to_owned(),
            country: "CN".to_owned(),
        }
    }

    fn tags(&mut self) -> Vec<String> {
        let count = self.weighted(&[(0, 30), (1, 40), (2, 20), (3, 10)]);
        let mut tags: Vec<String> = Vec::new();
        while tags.len() < count {
            let tag = self.pick(TAGS);
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        tags
    }

    /// Zero to three notes between account creation and now, oldest first.
    fn notes(&mut self, created_at: Timestamp) -> Vec<Note> {
        let count = self.weighted(&[(0, 45), (1, 30), (2, 17), (3, 8)]);
        let span = self.now.unix() - created_at.unix();
        let mut notes: Vec<Note> = (0..count)
            .map(|_| Note {
                at: created_at.plus(self.between(DAY, span - DAY)),
                author: self.pick(AGENTS).to_owned(),
                text: self.pick(NOTES).to_owned(),
            })
            .collect();
        notes.sort_by_key(|n| n.at);
        notes
    }

    fn attributes(
        &mut self,
        abroad: bool,
        country: &str,
        western_name: bool,
    ) -> BTreeMap<String, Value> {
        let mut attributes = BTreeMap::new();
        let language = match (abroad, country) {
            (_, "HK") => "zh-HK",
            (true, _) => "en",
            (false, _) if western_name && self.chance(0.6) => "en",
            _ => "zh-CN",
        };
        attributes.insert("preferred_language".to_owned(), json!(language));
        if self.chance(0.7) {
            let birthday = format!("{:02}-{:02}", self.between(1, 12), self.between(1, 28));
            attributes.insert("birthday".to_owned(), json!(birthday));
        }
        let contact = self.pick(&["wechat", "phone", "email", "sms"]);
        attributes.insert("preferred_contact".to_owned(), json!(contact));
        attributes.insert("newsletter".to_owned(), json!(self.chance(0.4)));
        if !abroad {
            attributes.insert("wechat_bound".to_owned(), json!(self.chance(0.6)));
        }
        if self.chance(0.2) {
            attributes.insert("shoe_size_eu".to_owned(), json!(self.between(35, 46)));
        }
        attributes
    }
}

/// `García` → `garcia`, `O'Brien` → `obrien`: lowercase ASCII for e-mail addresses.
fn ascii_fold(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => Some('a'),
            'é' | 'è' | 'ë' | 'ê' => Some('e'),
            'í' | 'ï' => Some('i'),
            'ó' | 'ö' | 'ô' => Some('o'),
            'ú' | 'ü' => Some('u'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::ascii_fold;

    #[test]
    fn folds_names_to_ascii() {
        assert_eq!(ascii_fold("García"), "garcia");
        assert_eq!(ascii_fold("O'Brien"), "obrien");
        assert_eq!(ascii_fold("Zoë"), "zoe");
        assert_eq!(ascii_fold("Müller"), "muller");
    }
}
