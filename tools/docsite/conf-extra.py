
# --- appended by tools/docs to the conf.py `antsibull-docs sphinx-init` writes ---
# The docsite is built offline: no intersphinx inventories to download. A reference to a page
# of Ansible's own documentation (common return values, ansible.builtin's modules) becomes a
# link to that page; any other unresolved reference stays a warning, which -W makes an error.
extensions = [e for e in globals()['extensions'] if e != 'sphinx.ext.intersphinx']
intersphinx_mapping = {}

_ANSIBLE_DOCS = 'https://docs.ansible.com/ansible/latest/'
_ANSIBLE_PAGES = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'action_plugins': 'plugins/action.html',
}


def _ansible_docs_link(app, env, node, contnode):
    from docutils import nodes

    if node.get('reftype') not in ('ref', 'any'):
        return None
    target = node.get('reftarget', '')
    if target in _ANSIBLE_PAGES:
        url = _ANSIBLE_DOCS + _ANSIBLE_PAGES[target]
    elif target.startswith('ansible_collections.') and not target.startswith('ansible_collections.pyweb.deploy.'):
        parts = target.split('.')
        if len(parts) < 4:
            return None
        url = _ANSIBLE_DOCS + 'collections/%s/%s/%s.html' % tuple(parts[1:4])
    else:
        return None
    ref = nodes.reference('', '', internal=False, refuri=url)
    ref += contnode
    return ref


def setup(app):
    app.connect('missing-reference', _ansible_docs_link)
