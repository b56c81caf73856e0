import Testing
@testable import OSSVFS

/// When an ETag is the MD5 of the bytes: what downloads, uploads and HASH rely on.
struct StoreDialectTests {
    let md5 = "9e107d9d372bb6826bd81d3542a419d6"

    /// Transfer acceleration's hosts serve every region: signing V4 with `accelerate` as the
    /// region failed every request.
    @Test func accelerationHostsNameNoRegion() {
        #expect(StoreFactory.ossRegion(fromHost: "oss-cn-hangzhou.aliyuncs.com") == "cn-hangzhou")
        #expect(StoreFactory.ossRegion(fromHost: "oss-cn-hangzhou-internal.aliyuncs.com") == "cn-hangzhou")
        #expect(StoreFactory.ossRegion(fromHost: "oss-accelerate.aliyuncs.com") == nil)
        #expect(StoreFactory.ossRegion(fromHost: "oss-accelerate-overseas.aliyuncs.com") == nil)
    }

    @Test func aSinglePutsETagIsItsMD5InClearAndUnderTheStoresOwnKey() {
        for dialect in [StoreDialect.s3(region: "us-east-1"), .oss(region: "cn-hangzhou")] {
            let prefix = dialect.headerPrefix
            #expect(dialect.contentMD5(etag: "\"\(md5.uppercased())\"", in: [:]) == md5)
            #expect(dialect.contentMD5(etag: "\"\(md5)\"", in: ["\(prefix)server-side-encryption": "AES256"]) == md5)
        }
    }

    @Test func keysOfKMSOrTheCustomerMakeOtherETags() {
        let s3 = StoreDialect.s3(region: "us-east-1")
        for value in ["aws:kms", "aws:kms:dsse"] {
            #expect(s3.contentMD5(etag: "\"\(md5)\"", in: ["x-amz-server-side-encryption": value]) == nil)
        }
        #expect(s3.contentMD5(etag: "\"\(md5)\"", in: ["x-amz-server-side-encryption-customer-algorithm": "AES256"]) == nil)
        let oss = StoreDialect.oss(region: "cn-hangzhou")
        for value in ["KMS", "SM4"] {
            #expect(oss.contentMD5(etag: "\"\(md5)\"", in: ["x-oss-server-side-encryption": value]) == nil)
        }
    }

    @Test func multipartWeakAndOtherETagsSayNothing() {
        let s3 = StoreDialect.s3(region: "us-east-1")
        for etag in ["\"\(md5)-3\"", "W/\"\(md5)\"", "\"1234-5678\"", "\"\(md5.dropLast())g\"", ""] {
            #expect(s3.contentMD5(etag: etag, in: [:]) == nil)
        }
        #expect(s3.contentMD5(etag: nil, in: [:]) == nil)
    }
}
