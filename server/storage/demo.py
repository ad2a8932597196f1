"""The demo center: a realistic provincial one-stop center to try Luot with (idempotent)."""

from __future__ import annotations

from sqlalchemy import Connection

from . import catalog

DEMO_NAME = "Trung tâm Phục vụ hành chính công (demo)"
DEMO_HOURS = "mon-sat 07:30-11:30, mon-sat 13:30-17:00"

# (code, prefix, name, [procedures]) — real procedures of each lĩnh vực.
SERVICES: list[tuple[str, str, str, list[str]]] = [
    (
        "TPHT",
        "A",
        "Tư pháp – Hộ tịch",
        [
            "Đăng ký khai sinh",
            "Đăng ký kết hôn",
            "Đăng ký khai tử",
            "Cấp bản sao trích lục hộ tịch",
            "Xác nhận tình trạng hôn nhân",
            "Chứng thực bản sao từ bản chính",
            "Cấp Phiếu lý lịch tư pháp",
        ],
    ),
    (
        "DD",
        "B",
        "Đất đai",
        [
            "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu",
            "Đăng ký biến động quyền sử dụng đất",
            "Chuyển mục đích sử dụng đất",
            "Đăng ký thế chấp quyền sử dụng đất",
            "Tách thửa, hợp thửa đất",
        ],
    ),
    (
        "XD",
        "C",
        "Xây dựng",
        [
            "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "Gia hạn giấy phép xây dựng",
            "Cấp giấy phép sửa chữa, cải tạo công trình",
            "Thẩm định thiết kế xây dựng",
        ],
    ),
    (
        "DKKD",
        "D",
        "Đăng ký kinh doanh",
        [
            "Đăng ký thành lập doanh nghiệp",
            "Đăng ký hộ kinh doanh",
            "Thay đổi nội dung đăng ký doanh nghiệp",
            "Tạm ngừng kinh doanh",
            "Giải thể doanh nghiệp",
        ],
    ),
    (
        "LDTBXH",
        "E",
        "Lao động – Thương binh và Xã hội",
        [
            "Giải quyết hưởng trợ cấp thất nghiệp",
            "Xác nhận người có công với cách mạng",
            "Trợ cấp xã hội hằng tháng",
            "Cấp giấy phép lao động cho người nước ngoài",
        ],
    ),
    (
        "GTVT",
        "F",
        "Giao thông vận tải",
        [
            "Cấp đổi giấy phép lái xe",
            "Cấp lại giấy phép lái xe",
            "Đăng ký phương tiện thủy nội địa",
            "Cấp phù hiệu xe kinh doanh vận tải",
        ],
    ),
    (
        "TNMT",
        "G",
        "Tài nguyên và Môi trường",
        [
            "Cấp giấy phép môi trường",
            "Cấp giấy phép khai thác nước dưới đất",
            "Thẩm định báo cáo đánh giá tác động môi trường",
        ],
    ),
    (
        "CT",
        "H",
        "Công thương",
        [
            "Cấp giấy phép bán lẻ rượu",
            "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
            "Cấp giấy chứng nhận cửa hàng đủ điều kiện bán lẻ xăng dầu",
        ],
    ),
    (
        "YT",
        "K",
        "Y tế",
        [
            "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh",
            "Cấp giấy phép hoạt động phòng khám",
            "Công bố cơ sở đủ điều kiện sản xuất mỹ phẩm",
        ],
    ),
    (
        "GDDT",
        "L",
        "Giáo dục và Đào tạo",
        [
            "Công nhận văn bằng do cơ sở giáo dục nước ngoài cấp",
            "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc",
            "Cho phép thành lập trường mầm non tư thục",
        ],
    ),
    (
        "NNPTNT",
        "M",
        "Nông nghiệp và Phát triển nông thôn",
        [
            "Kiểm dịch động vật vận chuyển ra khỏi địa bàn tỉnh",
            "Cấp chứng chỉ hành nghề thú y",
            "Cấp giấy chứng nhận cơ sở đủ điều kiện sản xuất giống cây trồng",
        ],
    ),
    (
        "VHTTDL",
        "N",
        "Văn hóa, Thể thao và Du lịch",
        [
            "Cấp giấy phép kinh doanh dịch vụ karaoke",
            "Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa",
            "Công nhận hạng cơ sở lưu trú du lịch",
        ],
    ),
    ("TKQ", "R", "Trả kết quả", ["Nhận kết quả giải quyết hồ sơ"]),
]

# (code, number, services in preference order)
COUNTERS: list[tuple[str, int, list[str]]] = [
    ("Q01", 1, ["TPHT"]),
    ("Q02", 2, ["TPHT", "TKQ"]),
    ("Q03", 3, ["DD"]),
    ("Q04", 4, ["DD", "TNMT"]),
    ("Q05", 5, ["XD"]),
    ("Q06", 6, ["DKKD"]),
    ("Q07", 7, ["DKKD", "CT"]),
    ("Q08", 8, ["LDTBXH"]),
    ("Q09", 9, ["GTVT"]),
    ("Q10", 10, ["TNMT", "NNPTNT"]),
    ("Q11", 11, ["YT", "GDDT", "VHTTDL"]),
    ("Q12", 12, ["TKQ", "CT", "NNPTNT"]),
]

# (username, role, password, counters)
ACCOUNTS: list[tuple[str, str, str, list[str]]] = [
    ("admin", "admin", "demo-admin", []),
    ("giamsat", "supervisor", "demo-giamsat", []),
    ("canbo1", "staff", "demo-canbo", ["Q01", "Q02"]),
    ("canbo3", "staff", "demo-canbo", ["Q03", "Q04"]),
]


def seed(conn: Connection, site_id: int) -> None:
    """Adds the demo center's services, procedures, counters and priorities to a site."""
    ids: dict[str, int] = {}
    for position, (code, prefix, name, procedures) in enumerate(SERVICES):
        ids[code] = catalog.ensure_service(conn, site_id, code, name, prefix, DEMO_HOURS, position)
        for index, procedure in enumerate(procedures, start=1):
            catalog.ensure_procedure(
                conn, site_id, ids[code], f"{code}-{index:02d}", procedure, index
            )
    for position, (code, number, services) in enumerate(COUNTERS):
        catalog.ensure_counter(
            conn, site_id, code, f"Quầy số {number}", [ids[s] for s in services], position
        )
    catalog.ensure_priorities(conn, site_id)
