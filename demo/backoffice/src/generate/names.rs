//! Word lists the generator draws from: names (with pinyin for e-mail addresses), places,
//! staff, notes and return reasons. Pure data.

/// Chinese surnames and their pinyin.
pub const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("欧阳", "ouyang"),
];

/// Chinese given names and their pinyin.
pub const GIVEN_NAMES: &[(&str, &str)] = &[
    ("芳", "fang"),
    ("娜", "na"),
    ("伟", "wei"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("桂英", "guiying"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
    ("雨桐", "yutong"),
    ("欣怡", "xinyi"),
    ("梓萱", "zixuan"),
    ("宇轩", "yuxuan"),
    ("思远", "siyuan"),
    ("建华", "jianhua"),
    ("晓明", "xiaoming"),
    ("婷婷", "tingting"),
    ("佳怡", "jiayi"),
    ("一鸣", "yiming"),
];

/// English given names.
pub const ENGLISH_FIRST: &[&str] = &[
    "Emma",
    "Olivia",
    "James",
    "Liam",
    "Sophia",
    "Noah",
    "Isabella",
    "Lucas",
    "Mia",
    "Ethan",
    "Charlotte",
    "Daniel",
    "Amelia",
    "Henry",
    "Grace",
    "Jack",
    "Chloe",
    "Oliver",
    "Hannah",
    "Samuel",
    "Zoë",
    "Renée",
];

/// English family names, a few with letters outside ASCII.
pub const ENGLISH_LAST: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Martin", "Thompson", "Walker", "Clarke",
    "Evans", "Nguyen", "Kim", "Tan", "Lim", "Wong", "Chan", "O'Brien", "García", "Müller",
    "Kowalski",
];

/// Names with emoji or several scripts, and the local part of their e-mail address. A few
/// of these are always in the data set so that connectors meet them.
pub const UNUSUAL_NAMES: &[(&str, &str)] = &[
    ("小美 ✨", "xiaomei.sparkle"),
    ("Lily Chen 陈丽", "lily.chen"),
    ("Zhang Wei 张伟 🐼", "zhangwei.panda"),
    ("Mia 🌸 Wong", "mia.wong"),
    ("王小明 (Tony)", "tony.wang"),
    ("Алексей Иванов", "alexey.ivanov"),
    ("佐藤 花子", "hanako.sato"),
    ("김민준", "minjun.kim"),
];

/// A Chinese city: name, province, postal code, districts.
pub struct City {
    pub city: &'static str,
    pub province: &'static str,
    pub postal_code: &'static str,
    pub districts: &'static [&'static str],
}

/// Cities domestic customers live in.
pub const CITIES: &[City] = &[
    City {
        city: "上海",
        province: "上海",
        postal_code: "200000",
        districts: &["浦东新区", "徐汇区", "静安区", "闵行区"],
    },
    City {
        city: "北京",
        province: "北京",
        postal_code: "100000",
        districts: &["朝阳区", "海淀区", "东城区", "丰台区"],
    },
    City {
        city: "广州",
        province: "广东",
        postal_code: "510000",
        districts: &["天河区", "越秀区", "海珠区"],
    },
    City {
        city: "深圳",
        province: "广东",
        postal_code: "518000",
        districts: &["南山区", "福田区", "宝安区"],
    },
    City {
        city: "杭州",
        province: "浙江",
        postal_code: "310000",
        districts: &["西湖区", "滨江区", "拱墅区"],
    },
    City {
        city: "成都",
        province: "四川",
        postal_code: "610000",
        districts: &["武侯区", "锦江区", "高新区"],
    },
    City {
        city: "南京",
        province: "江苏",
        postal_code: "210000",
        districts: &["鼓楼区", "玄武区", "建邺区"],
    },
    City {
        city: "武汉",
        province: "湖北",
        postal_code: "430000",
        districts: &["武昌区", "江汉区", "洪山区"],
    },
    City {
        city: "西安",
        province: "陕西",
        postal_code: "710000",
        districts: &["雁塔区", "碑林区"],
    },
    City {
        city: "苏州",
        province: "江苏",
        postal_code: "215000",
        districts: &["姑苏区", "工业园区"],
    },
];

/// Streets used in domestic addresses.
pub const ROADS: &[&str] = &[
    "人民路",
    "中山路",
    "解放大道",
    "建国路",
    "长江路",
    "和平街",
    "文化路",
    "科技园路",
    "世纪大道",
    "滨江大道",
];

/// International addresses: line1, city, province/state, postal code, country, phone code.
pub const ABROAD: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "21 Orchard Road",
        "Singapore",
        "Singapore",
        "238801",
        "SG",
        "+65",
    ),
    (
        "88 Queensway, Admiralty",
        "Hong Kong",
        "Hong Kong Island",
        "999077",
        "HK",
        "+852",
    ),
    (
        "500 Howard Street",
        "San Francisco",
        "CA",
        "94105",
        "US",
        "+1",
    ),
    (
        "10 King Street",
        "London",
        "England",
        "EC1A 1BB",
        "GB",
        "+44",
    ),
    ("200 George Street", "Sydney", "NSW", "2000", "AU", "+61"),
];

/// E-mail domains (all fictional).
pub const EMAIL_DOMAINS: &[&str] = &[
    "example.cn",
    "example.com",
    "mail.example.cn",
    "example.net",
    "example.org",
];

/// Mobile prefixes of the Chinese carriers.
pub const CN_MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "158", "159", "166", "177", "180", "181", "186", "187", "188", "189", "198", "199",
];

/// Staff who write CRM notes.
pub const AGENTS: &[&str] = &[
    "Li Na",
    "Zhou Min",
    "Chen Jie",
    "Sarah Lee",
    "刘洋",
    "Tom Baker",
];

/// CRM notes, some with emoji or mixed scripts.
pub const NOTES: &[&str] = &[
    "Prefers delivery after 6pm",
    "请不要在工作日白天派送",
    "Called about a late parcel; carrier re-routed it",
    "Asked for gift wrapping on all orders 🎁",
    "Allergic to latex: do not recommend the latex pillow",
    "客户偏好微信联系",
    "Returned two items last year, both size issues",
    "Wholesale enquiry forwarded to the B2B team",
    "地址在小区东门，快递请放丰巢柜",
    "Speaks Cantonese; English is fine too",
    "Very happy with the kettle 👍 wants news about new colours",
    "客户说包装破损了 😢 已补发",
    "Needs a 发票 (fapiao) with company title on every order 🧾",
    "Birthday coupon sent 🎉",
];

/// Customer tags (besides `vip`, which follows the tier).
pub const TAGS: &[&str] = &[
    "prefers-sf-express",
    "newsletter",
    "price-sensitive",
    "frequent-returner",
    "gift-buyer",
    "corporate",
    "wechat-follower",
    "student",
];

/// Why shoppers return things.
pub const RETURN_REASONS: &[&str] = &[
    "damaged on arrival",
    "wrong size",
    "not as described",
    "changed my mind",
    "质量问题",
    "发错货了",
    "七天无理由退货",
    "arrived too late for the gift",
    "missing parts",
    "颜色与图片不符",
];
