import OSSVFS

/// What an account's login builds on its store: its view from its home, within its permissions.
struct AccountSession: Sendable {
    let home: String
    let options: ObjectVFS.Options
    let permissions: AccountPermissions

    func vfs(on store: any ObjectStore) -> any VFS {
        PermissionedVFS.limiting(ObjectVFS(store: store, homeDirectory: home, options: options), to: permissions)
    }

    /// The view of an account whose store refuses it for good.
    func refusing(_ refusal: ObjectStoreError) -> any VFS {
        PermissionedVFS.limiting(RefusedStoreVFS(refusal: refusal), to: permissions)
    }
}
