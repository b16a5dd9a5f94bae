//! The demo catalog's vocabularies: departments, categories, product types, brands,
//! colours, materials, styles and sizes, written from how home-goods stores describe
//! their products.

/// A product type at the third category level.
pub struct ProductType {
    /// Category label (plural), e.g. "Sofas".
    pub category: &'static str,
    /// Nouns a title uses, e.g. "Sofa", "Couch".
    pub nouns: &'static [&'static str],
    /// Materials that make sense for this type.
    pub materials: &'static [&'static str],
    /// Sizes written the way the store writes them ("3-seat", "18x18", "Queen").
    pub sizes: &'static [&'static str],
    /// Median price and log-normal spread.
    pub median_price: f64,
    pub sigma: f64,
    /// Short selling points used in descriptions.
    pub features: &'static [&'static str],
}

pub struct Category {
    pub name: &'static str,
    pub types: &'static [ProductType],
}

pub struct Department {
    pub name: &'static str,
    pub brands: &'static [&'static str],
    pub categories: &'static [Category],
}

pub const COLORS: &[&str] = &[
    "Black", "White", "Grey", "Charcoal", "Beige", "Cream", "Ivory", "Brown", "Walnut", "Oak",
    "Navy", "Blue", "Teal", "Green", "Sage", "Olive", "Mustard", "Yellow", "Orange", "Rust", "Red",
    "Burgundy", "Pink", "Blush", "Purple", "Gold", "Brass", "Silver", "Chrome", "Natural",
];

pub const STYLES: &[&str] = &[
    "Modern",
    "Mid-Century",
    "Scandinavian",
    "Industrial",
    "Farmhouse",
    "Traditional",
    "Coastal",
    "Bohemian",
    "Minimalist",
    "Rustic",
    "Art Deco",
    "Glam",
    "Transitional",
    "Contemporary",
];

const WOODS: &[&str] = &[
    "Oak",
    "Walnut",
    "Acacia",
    "Pine",
    "Teak",
    "Mango Wood",
    "Beech",
    "Bamboo",
];
const UPHOLSTERY: &[&str] = &[
    "Linen",
    "Velvet",
    "Leather",
    "Boucle",
    "Cotton",
    "Performance Fabric",
    "Chenille",
    "Faux Leather",
];
const METALS: &[&str] = &["Steel", "Brass", "Iron", "Aluminum", "Chrome", "Copper"];
const TEXTILES: &[&str] = &[
    "Cotton",
    "Linen",
    "Wool",
    "Jute",
    "Polyester",
    "Velvet",
    "Silk",
    "Bamboo",
];
const CERAMICS: &[&str] = &[
    "Ceramic",
    "Porcelain",
    "Stoneware",
    "Glass",
    "Stainless Steel",
    "Cast Iron",
    "Enamel",
];
const OUTDOOR: &[&str] = &[
    "Teak", "Aluminum", "Wicker", "Resin", "Acacia", "Steel", "Rope",
];

macro_rules! ptype {
    ($cat:expr, [$($noun:expr),+], $mat:expr, [$($size:expr),*], $price:expr, $sigma:expr, [$($f:expr),+]) => {
        ProductType {
            category: $cat,
            nouns: &[$($noun),+],
            materials: $mat,
            sizes: &[$($size),*],
            median_price: $price,
            sigma: $sigma,
            features: &[$($f),+],
        }
    };
}

pub const DEPARTMENTS: &[Department] = &[
    Department {
        name: "Furniture",
        brands: &[
            "Nordby",
            "Hallmark & Pine",
            "Oslo Living",
            "Brookline",
            "Casa Verde",
            "Ashford",
            "Linden Row",
            "Maple Street",
            "Fjord",
            "Kinross",
            "Arlo & Co",
            "Westfield",
        ],
        categories: &[
            Category {
                name: "Living Room",
                types: &[
                    ptype!(
                        "Sofas",
                        ["Sofa", "Couch"],
                        UPHOLSTERY,
                        ["2-Seat", "3-Seat", "4-Seat", "84\"", "72\""],
                        899.0,
                        0.45,
                        [
                            "deep seat cushions",
                            "kiln-dried hardwood frame",
                            "removable covers",
                            "pocket-spring seats"
                        ]
                    ),
                    ptype!(
                        "Sectionals",
                        ["Sectional", "Corner Sofa", "Modular Sofa"],
                        UPHOLSTERY,
                        ["L-Shaped", "U-Shaped", "5-Seat", "6-Seat"],
                        1599.0,
                        0.4,
                        [
                            "reversible chaise",
                            "modular pieces",
                            "stain-resistant fabric"
                        ]
                    ),
                    ptype!(
                        "Loveseats",
                        ["Loveseat", "Love Seat", "Settee"],
                        UPHOLSTERY,
                        ["2-Seat", "58\"", "64\""],
                        599.0,
                        0.4,
                        ["compact footprint", "tufted back", "tapered legs"]
                    ),
                    ptype!(
                        "Accent Chairs",
                        ["Accent Chair", "Armchair", "Lounge Chair"],
                        UPHOLSTERY,
                        ["Standard", "Oversized"],
                        349.0,
                        0.5,
                        ["swivel base", "channel tufting", "solid wood legs"]
                    ),
                    ptype!(
                        "Coffee Tables",
                        ["Coffee Table", "Cocktail Table"],
                        WOODS,
                        ["36\"", "42\"", "48\"", "Round", "Oval"],
                        279.0,
                        0.5,
                        ["lift-top storage", "lower shelf", "rounded corners"]
                    ),
                    ptype!(
                        "TV Stands",
                        ["TV Stand", "Media Console", "Entertainment Center"],
                        WOODS,
                        ["55\"", "65\"", "75\""],
                        329.0,
                        0.45,
                        ["cable management", "adjustable shelves", "soft-close doors"]
                    ),
                ],
            },
            Category {
                name: "Bedroom",
                types: &[
                    ptype!(
                        "Beds",
                        ["Bed", "Platform Bed", "Bed Frame"],
                        WOODS,
                        ["Twin", "Full", "Queen", "King", "California King"],
                        699.0,
                        0.5,
                        [
                            "no box spring needed",
                            "slatted base",
                            "upholstered headboard"
                        ]
                    ),
                    ptype!(
                        "Dressers",
                        ["Dresser", "Chest of Drawers"],
                        WOODS,
                        ["6-Drawer", "4-Drawer", "9-Drawer"],
                        549.0,
                        0.45,
                        ["dovetail drawers", "anti-tip kit", "metal glides"]
                    ),
                    ptype!(
                        "Nightstands",
                        ["Nightstand", "Bedside Table"],
                        WOODS,
                        ["1-Drawer", "2-Drawer", "Open Shelf"],
                        179.0,
                        0.5,
                        ["USB charging port", "hidden drawer", "open cubby"]
                    ),
                    ptype!(
                        "Mattresses",
                        ["Mattress", "Memory Foam Mattress", "Hybrid Mattress"],
                        &["Memory Foam", "Latex", "Innerspring", "Hybrid"],
                        ["Twin", "Full", "Queen", "King"],
                        799.0,
                        0.5,
                        ["cooling gel layer", "medium-firm feel", "100-night trial"]
                    ),
                ],
            },
            Category {
                name: "Dining Room",
                types: &[
                    ptype!(
                        "Dining Tables",
                        ["Dining Table", "Kitchen Table"],
                        WOODS,
                        ["4-Person", "6-Person", "8-Person", "Extendable"],
                        649.0,
                        0.45,
                        ["solid wood top", "extension leaf", "trestle base"]
                    ),
                    ptype!(
                        "Dining Chairs",
                        ["Dining Chair", "Side Chair"],
                        UPHOLSTERY,
                        ["Set of 2", "Set of 4", "Single"],
                        189.0,
                        0.5,
                        ["upholstered seat", "curved back", "stackable"]
                    ),
                    ptype!(
                        "Bar Stools",
                        ["Bar Stool", "Counter Stool"],
                        METALS,
                        ["24\"", "30\"", "Adjustable"],
                        129.0,
                        0.5,
                        ["footrest", "swivel seat", "gas lift"]
                    ),
                ],
            },
            Category {
                name: "Office",
                types: &[
                    ptype!(
                        "Desks",
                        ["Desk", "Writing Desk", "Standing Desk"],
                        WOODS,
                        ["48\"", "55\"", "60\"", "L-Shaped"],
                        399.0,
                        0.5,
                        ["cable grommet", "keyboard tray", "height adjustable"]
                    ),
                    ptype!(
                        "Office Chairs",
                        ["Office Chair", "Desk Chair", "Task Chair"],
                        &["Mesh", "Leather", "Fabric", "Faux Leather"],
                        ["Standard", "Big & Tall"],
                        249.0,
                        0.5,
                        ["lumbar support", "adjustable armrests", "tilt lock"]
                    ),
                    ptype!(
                        "Bookcases",
                        ["Bookcase", "Bookshelf", "Shelving Unit"],
                        WOODS,
                        ["3-Shelf", "5-Shelf", "Ladder"],
                        219.0,
                        0.5,
                        ["adjustable shelves", "wall anchor", "open back"]
                    ),
                ],
            },
        ],
    },
    Department {
        name: "Lighting",
        brands: &[
            "Lumen & Lux",
            "Brightwell",
            "Halcyon",
            "Ember Lane",
            "Lantern House",
            "Solace",
            "Northlight",
            "Aurora Works",
        ],
        categories: &[
            Category {
                name: "Ceiling Lights",
                types: &[
                    ptype!(
                        "Chandeliers",
                        ["Chandelier"],
                        METALS,
                        ["3-Light", "5-Light", "6-Light", "8-Light"],
                        449.0,
                        0.55,
                        ["dimmable", "adjustable chain", "crystal accents"]
                    ),
                    ptype!(
                        "Pendant Lights",
                        ["Pendant Light", "Pendant Lamp"],
                        METALS,
                        ["1-Light", "3-Light", "Mini"],
                        159.0,
                        0.55,
                        ["adjustable cord", "globe shade", "dimmable"]
                    ),
                    ptype!(
                        "Flush Mounts",
                        ["Flush Mount", "Ceiling Light"],
                        METALS,
                        ["12\"", "16\"", "20\""],
                        99.0,
                        0.5,
                        ["LED integrated", "frosted glass", "low profile"]
                    ),
                ],
            },
            Category {
                name: "Lamps",
                types: &[
                    ptype!(
                        "Table Lamps",
                        ["Table Lamp", "Bedside Lamp"],
                        CERAMICS,
                        ["Set of 2", "Single", "Mini"],
                        89.0,
                        0.5,
                        ["linen shade", "USB port", "three-way switch"]
                    ),
                    ptype!(
                        "Floor Lamps",
                        ["Floor Lamp", "Arc Lamp", "Torchiere"],
                        METALS,
                        ["60\"", "65\"", "72\""],
                        149.0,
                        0.5,
                        ["foot switch", "weighted base", "adjustable head"]
                    ),
                    ptype!(
                        "Desk Lamps",
                        ["Desk Lamp", "Task Lamp"],
                        METALS,
                        ["Standard", "Clamp"],
                        59.0,
                        0.5,
                        ["adjustable arm", "LED", "touch dimmer"]
                    ),
                ],
            },
            Category {
                name: "Wall Lights",
                types: &[
                    ptype!(
                        "Sconces",
                        ["Wall Sconce", "Sconce"],
                        METALS,
                        ["1-Light", "2-Light", "Plug-In"],
                        89.0,
                        0.5,
                        ["hardwired or plug-in", "swing arm", "dimmable"]
                    ),
                    ptype!(
                        "Vanity Lights",
                        ["Vanity Light", "Bath Bar"],
                        METALS,
                        ["2-Light", "3-Light", "4-Light"],
                        129.0,
                        0.5,
                        ["damp rated", "frosted glass", "LED"]
                    ),
                ],
            },
        ],
    },
    Department {
        name: "Home Decor",
        brands: &[
            "Willow & Wren",
            "Maison Blanc",
            "Terra Home",
            "Juniper",
            "Saltbox",
            "Gilded Fern",
            "Harbor & Vine",
            "Odessa",
        ],
        categories: &[
            Category {
                name: "Pillows & Throws",
                types: &[
                    ptype!(
                        "Throw Pillows",
                        ["Throw Pillow", "Accent Pillow", "Cushion"],
                        TEXTILES,
                        ["18x18", "20x20", "22x22", "12x20", "Lumbar"],
                        39.0,
                        0.45,
                        ["hidden zipper", "feather insert", "reversible"]
                    ),
                    ptype!(
                        "Throw Blankets",
                        ["Throw Blanket", "Throw"],
                        TEXTILES,
                        ["50x60", "60x80"],
                        59.0,
                        0.45,
                        ["fringe trim", "machine washable", "chunky knit"]
                    ),
                ],
            },
            Category {
                name: "Wall Decor",
                types: &[
                    ptype!(
                        "Mirrors",
                        ["Wall Mirror", "Mirror", "Floor Mirror"],
                        METALS,
                        ["24\"", "30\"", "36\"", "Full Length", "Round"],
                        149.0,
                        0.55,
                        ["beveled edge", "ready to hang", "shatter-resistant"]
                    ),
                    ptype!(
                        "Wall Art",
                        ["Canvas Print", "Framed Print", "Wall Art"],
                        &["Canvas", "Paper", "Metal", "Wood"],
                        ["16x20", "24x36", "Set of 3"],
                        89.0,
                        0.6,
                        ["gallery wrapped", "ready to hang", "UV-resistant inks"]
                    ),
                    ptype!(
                        "Wall Clocks",
                        ["Wall Clock", "Clock"],
                        METALS,
                        ["12\"", "18\"", "24\""],
                        49.0,
                        0.5,
                        ["silent movement", "Roman numerals", "battery operated"]
                    ),
                ],
            },
            Category {
                name: "Decorative Accents",
                types: &[
                    ptype!(
                        "Vases",
                        ["Vase", "Bud Vase", "Floor Vase"],
                        CERAMICS,
                        ["Small", "Medium", "Large", "Set of 3"],
                        39.0,
                        0.55,
                        ["hand-glazed", "watertight", "matte finish"]
                    ),
                    ptype!(
                        "Candles",
                        ["Candle", "Scented Candle", "Pillar Candle"],
                        &["Soy Wax", "Beeswax", "Paraffin"],
                        ["8 oz", "12 oz", "3-Wick"],
                        24.0,
                        0.45,
                        ["cotton wick", "40-hour burn", "essential oils"]
                    ),
                    ptype!(
                        "Planters",
                        ["Planter", "Plant Pot"],
                        CERAMICS,
                        ["6\"", "8\"", "10\"", "12\""],
                        34.0,
                        0.5,
                        ["drainage hole", "saucer included", "indoor/outdoor"]
                    ),
                ],
            },
        ],
    },
    Department {
        name: "Kitchen & Dining",
        brands: &[
            "Copperleaf",
            "Hearth & Home",
            "Bistro Co",
            "Sage Kitchen",
            "Ironwood",
            "Mesa",
            "Larder",
            "Pantry Lane",
        ],
        categories: &[
            Category {
                name: "Cookware",
                types: &[
                    ptype!(
                        "Frying Pans",
                        ["Frying Pan", "Skillet", "Fry Pan"],
                        CERAMICS,
                        ["8\"", "10\"", "12\""],
                        49.0,
                        0.5,
                        ["nonstick coating", "oven safe", "induction compatible"]
                    ),
                    ptype!(
                        "Cookware Sets",
                        ["Cookware Set", "Pots and Pans Set"],
                        CERAMICS,
                        ["5-Piece", "10-Piece", "12-Piece"],
                        199.0,
                        0.5,
                        [
                            "dishwasher safe",
                            "tempered glass lids",
                            "stay-cool handles"
                        ]
                    ),
                    ptype!(
                        "Dutch Ovens",
                        ["Dutch Oven", "Casserole"],
                        &["Cast Iron", "Enamel", "Ceramic"],
                        ["4 qt", "5.5 qt", "7 qt"],
                        129.0,
                        0.45,
                        ["self-basting lid", "oven safe to 500F", "even heat"]
                    ),
                ],
            },
            Category {
                name: "Dinnerware",
                types: &[
                    ptype!(
                        "Dinnerware Sets",
                        ["Dinnerware Set", "Dish Set"],
                        CERAMICS,
                        ["12-Piece", "16-Piece", "Service for 4", "Service for 8"],
                        89.0,
                        0.45,
                        ["microwave safe", "chip resistant", "dishwasher safe"]
                    ),
                    ptype!(
                        "Mugs",
                        ["Mug", "Coffee Mug"],
                        CERAMICS,
                        ["12 oz", "16 oz", "Set of 4"],
                        19.0,
                        0.45,
                        ["large handle", "reactive glaze", "microwave safe"]
                    ),
                    ptype!(
                        "Glassware",
                        ["Wine Glass", "Drinking Glass", "Tumbler"],
                        &["Glass", "Crystal", "Acrylic"],
                        ["Set of 4", "Set of 6", "Set of 8"],
                        34.0,
                        0.45,
                        ["lead-free crystal", "dishwasher safe", "stackable"]
                    ),
                ],
            },
            Category {
                name: "Small Appliances",
                types: &[
                    ptype!(
                        "Coffee Makers",
                        ["Coffee Maker", "Coffee Machine", "Espresso Machine"],
                        &["Stainless Steel", "Plastic", "Glass"],
                        ["4-Cup", "12-Cup", "Single Serve"],
                        99.0,
                        0.6,
                        ["programmable timer", "thermal carafe", "auto shut-off"]
                    ),
                    ptype!(
                        "Blenders",
                        ["Blender", "Smoothie Maker"],
                        &["Stainless Steel", "Plastic", "Glass"],
                        ["48 oz", "64 oz", "Personal"],
                        79.0,
                        0.6,
                        ["pulse setting", "BPA-free jar", "ice crushing"]
                    ),
                    ptype!(
                        "Toasters",
                        ["Toaster", "Toaster Oven"],
                        &["Stainless Steel", "Plastic"],
                        ["2-Slice", "4-Slice"],
                        49.0,
                        0.5,
                        ["bagel setting", "extra-wide slots", "removable crumb tray"]
                    ),
                ],
            },
        ],
    },
    Department {
        name: "Bed & Bath",
        brands: &[
            "Cloud Nine",
            "Linen Lane",
            "Driftwood",
            "Serenity",
            "Pure Loom",
            "Hollis",
            "Bramble",
            "Tidewater",
        ],
        categories: &[
            Category {
                name: "Bedding",
                types: &[
                    ptype!(
                        "Sheet Sets",
                        ["Sheet Set", "Bed Sheets"],
                        TEXTILES,
                        ["Twin", "Full", "Queen", "King"],
                        79.0,
                        0.5,
                        ["deep pockets", "400 thread count", "breathable weave"]
                    ),
                    ptype!(
                        "Comforters",
                        ["Comforter", "Duvet Insert", "Quilt"],
                        TEXTILES,
                        ["Twin", "Full/Queen", "King"],
                        119.0,
                        0.5,
                        ["down alternative fill", "corner tabs", "all-season weight"]
                    ),
                    ptype!(
                        "Duvet Covers",
                        ["Duvet Cover", "Duvet Cover Set"],
                        TEXTILES,
                        ["Twin", "Full/Queen", "King"],
                        99.0,
                        0.5,
                        ["button closure", "pillow shams included", "stonewashed"]
                    ),
                ],
            },
            Category {
                name: "Bath",
                types: &[
                    ptype!(
                        "Bath Towels",
                        ["Bath Towel", "Towel Set"],
                        &["Cotton", "Turkish Cotton", "Bamboo", "Microfiber"],
                        ["6-Piece", "Bath Sheet", "Set of 2"],
                        39.0,
                        0.45,
                        ["quick-dry", "600 GSM", "plush loops"]
                    ),
                    ptype!(
                        "Bath Mats",
                        ["Bath Mat", "Bath Rug"],
                        TEXTILES,
                        ["17x24", "20x32", "24x60"],
                        24.0,
                        0.45,
                        ["non-slip backing", "machine washable", "memory foam"]
                    ),
                    ptype!(
                        "Shower Curtains",
                        ["Shower Curtain"],
                        TEXTILES,
                        ["72x72", "72x84"],
                        29.0,
                        0.45,
                        ["water repellent", "rust-proof grommets", "weighted hem"]
                    ),
                ],
            },
        ],
    },
    Department {
        name: "Outdoor",
        brands: &[
            "Terrace & Tide",
            "Sunhaven",
            "Cedar Point",
            "Patio Works",
            "Evergreen",
            "Marlow Outdoor",
            "Ridgeway",
        ],
        categories: &[
            Category {
                name: "Patio Furniture",
                types: &[
                    ptype!(
                        "Patio Dining Sets",
                        ["Patio Dining Set", "Outdoor Dining Set"],
                        OUTDOOR,
                        ["5-Piece", "7-Piece", "9-Piece"],
                        899.0,
                        0.5,
                        ["weather resistant", "umbrella hole", "cushions included"]
                    ),
                    ptype!(
                        "Outdoor Sofas",
                        ["Outdoor Sofa", "Patio Sofa", "Outdoor Sectional"],
                        OUTDOOR,
                        ["3-Seat", "L-Shaped", "Loveseat"],
                        999.0,
                        0.5,
                        [
                            "all-weather wicker",
                            "fade-resistant cushions",
                            "rust-proof frame"
                        ]
                    ),
                    ptype!(
                        "Adirondack Chairs",
                        ["Adirondack Chair"],
                        OUTDOOR,
                        ["Single", "Set of 2", "Folding"],
                        229.0,
                        0.45,
                        ["contoured seat", "wide armrests", "folding"]
                    ),
                ],
            },
            Category {
                name: "Outdoor Decor",
                types: &[
                    ptype!(
                        "Outdoor Rugs",
                        ["Outdoor Rug", "Patio Rug"],
                        &["Polypropylene", "Jute", "Recycled Plastic"],
                        ["5x7", "8x10", "4x6"],
                        89.0,
                        0.5,
                        ["UV resistant", "reversible", "easy to clean"]
                    ),
                    ptype!(
                        "Fire Pits",
                        ["Fire Pit", "Fire Table"],
                        &["Steel", "Cast Iron", "Concrete", "Copper"],
                        ["30\"", "36\"", "44\""],
                        299.0,
                        0.55,
                        ["spark screen", "propane or wood", "cover included"]
                    ),
                    ptype!(
                        "String Lights",
                        ["String Lights", "Patio Lights"],
                        &["Plastic", "Glass", "Metal"],
                        ["24 ft", "48 ft", "100 ft"],
                        39.0,
                        0.5,
                        ["shatterproof bulbs", "dimmable", "weatherproof"]
                    ),
                ],
            },
        ],
    },
    Department {
        name: "Rugs",
        brands: &[
            "Kilim & Co",
            "Loom House",
            "Woven Ground",
            "Anatolia",
            "Hearthstone",
            "Meridian Rugs",
        ],
        categories: &[
            Category {
                name: "Area Rugs",
                types: &[
                    ptype!(
                        "Area Rugs",
                        ["Area Rug", "Rug"],
                        &[
                            "Wool",
                            "Jute",
                            "Polypropylene",
                            "Cotton",
                            "Viscose",
                            "Sisal"
                        ],
                        ["5x8", "8x10", "9x12", "6x9", "4x6"],
                        249.0,
                        0.6,
                        ["hand-tufted", "low pile", "stain resistant"]
                    ),
                    ptype!(
                        "Runner Rugs",
                        ["Runner Rug", "Hallway Runner"],
                        &["Wool", "Jute", "Polypropylene", "Cotton"],
                        ["2x8", "2x10", "3x12"],
                        99.0,
                        0.5,
                        ["non-shedding", "low profile", "machine washable"]
                    ),
                ],
            },
            Category {
                name: "Rug Pads",
                types: &[ptype!(
                    "Rug Pads",
                    ["Rug Pad", "Rug Gripper"],
                    &["Felt", "Rubber", "Felt and Rubber"],
                    ["5x8", "8x10", "9x12"],
                    49.0,
                    0.45,
                    ["non-slip", "cut to size", "cushioned"]
                )],
            },
        ],
    },
];
