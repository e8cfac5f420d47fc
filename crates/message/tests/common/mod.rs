//! Real-looking messages shared by the tests, with LF line endings as Maildir
//! stores them. The expected IMAP answers in the tests are what Dovecot 2.3.19
//! gives for these exact bytes.
#![allow(dead_code)]

/// A plain text mail as delivered (Received trace folded over three lines).
pub const PLAIN: &str = "\
Return-Path: <alice@example.org>
Received: from mail.example.org (mail.example.org [192.0.2.10])
\tby mx.example.com (havre) with ESMTPS id 4Y7qKz1
\tfor <bob@example.com>; Tue, 04 Mar 2025 10:15:02 +0100
Date: Tue, 04 Mar 2025 10:15:00 +0100
From: Alice Martin <alice@example.org>
To: Bob Dupont <bob@example.com>, carol@example.net
Cc: \"Dave (IT)\" <dave@example.com>
Subject: Lunch on Friday?
Message-ID: <20250304101500.1234@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Transfer-Encoding: 7bit

Hi Bob,

Are you free for lunch on Friday? The new place on
Rue Lepic has good reviews.

Alice
";

/// A newsletter: multipart/alternative with quoted-printable text and HTML.
pub const ALTERNATIVE: &str = "\
Date: Wed, 05 Mar 2025 08:00:00 +0000
From: \"Newsletter\" <news@shop.example>
To: bob@example.com
Subject: Spring sale: 20% off
Message-ID: <abc.123@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative;
 boundary=\"----=_Part_1_2345.6789\"

------=_Part_1_2345.6789
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Spring sale =E2=80=93 20% off everything until Sunday.
Visit https://shop.example/sale
------=_Part_1_2345.6789
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Spring sale =E2=80=93 <b>20% off</b> everything until Sunday.=
</p></body></html>
------=_Part_1_2345.6789--
";

/// An invoice: multipart/mixed with a preamble, text, and a base64 PDF attachment.
pub const MIXED: &str = "\
Date: Thu, 06 Mar 2025 14:30:00 -0500
From: Carol <carol@example.net>
To: Bob <bob@example.com>
Subject: Invoice for February
Message-ID: <inv-2025-02@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"b1_mixed\"

This is a multi-part message in MIME format.

--b1_mixed
Content-Type: text/plain; charset=us-ascii

Hello Bob,

please find the invoice attached.

Carol

--b1_mixed
Content-Type: application/pdf; name=\"invoice-2025-02.pdf\"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename=\"invoice-2025-02.pdf\"

JVBERi0xLjQKJSBoYXZyZSB0ZXN0IGludm9pY2UKMSAwIG9iaiA8PCAvVHlwZSAvQ2F0YWxvZyA+
PiBlbmRvYmoKdHJhaWxlciA8PCAvUm9vdCAxIDAgUiA+PgolJUVPRgo=
--b1_mixed--
";

/// A forwarded newsletter: text, then a message/rfc822 holding a multipart/alternative.
pub const FORWARDED: &str = "\
Date: Fri, 07 Mar 2025 09:00:00 +0100
From: Bob <bob@example.com>
To: Erin <erin@example.org>
Subject: Fwd: Spring sale: 20% off
Message-ID: <fwd-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"outer\"

--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

See below \u{2014} might interest you.

--outer
Content-Type: message/rfc822
Content-Disposition: inline

Date: Wed, 05 Mar 2025 08:00:00 +0000
From: \"Newsletter\" <news@shop.example>
To: bob@example.com
Subject: Spring sale: 20% off
Message-ID: <abc.123@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"inner\"

--inner
Content-Type: text/plain; charset=UTF-8

Spring sale, 20% off.
--inner
Content-Type: text/html; charset=UTF-8

<p>Spring sale, <b>20% off</b>.</p>
--inner--

--outer--
";

/// An 8-bit Latin-1 body with RFC 2047 encoded-words in Subject, From and To.
pub const LATIN1: &[u8] = b"\
Date: Sat, 08 Mar 2025 18:45:00 +0100
From: =?ISO-8859-1?Q?Fran=E7ois_M=FCller?= <francois@example.fr>
To: =?UTF-8?B?QsO2Yg==?= <bob@example.com>
Subject: =?ISO-8859-1?Q?R=E9union_de_l'=E9quipe?= =?UTF-8?B?4oCTIGxlIDEyIG1hcnM=?=
Message-ID: <reunion@example.fr>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: 8bit

Bonjour \xE0 tous,

La r\xE9union aura lieu le 12 mars \xE0 10h, salle \xC9toile.

Fran\xE7ois
";

/// Broken MIME: the inner multipart never closes, the outer closing boundary is missing.
pub const BROKEN: &str = "\
Date: Sun, 09 Mar 2025 12:00:00 +0000
From: broken@example.com
To: bob@example.com
Subject: broken MIME
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"outer\"

--outer
Content-Type: multipart/alternative; boundary=\"inner\"

--inner
Content-Type: text/plain

first
--inner
Content-Type: text/html

<p>second</p>
--outer
Content-Type: text/plain

third part, and no closing boundary
";

/// The same message with CRLF line endings.
pub fn crlf(message: &str) -> String {
    message.replace('\n', "\r\n")
}
